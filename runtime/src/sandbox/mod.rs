//! What holds a policy module in: its grant (which verbs, on which
//! objects), its limits (fuel, memory, deadline, host calls, output), the
//! gate every host call passes through, and the audit log that gate writes
//! (through a sink that never blocks the run beyond a bound).

pub mod audit;
pub mod gate;
pub mod grants;
pub mod limits;
pub mod sink;
