//! What holds a policy module in: its grant (which verbs, on which
//! objects), its limits (fuel, memory, deadline, host calls, output), the
//! budgets and maintenance windows that outlast a run (with the ledger that
//! keeps the budgets' counts), the values modules keep between runs, the
//! gate every host call passes through, and the audit log that gate writes
//! (through a sink that never blocks the run beyond a bound).

pub mod audit;
pub mod budgets;
pub mod chain;
pub mod gate;
pub mod grants;
pub mod held;
pub mod kept;
pub mod ledger;
pub mod limits;
pub mod sink;
pub mod windows;
