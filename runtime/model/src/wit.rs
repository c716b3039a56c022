//! Conversions between this crate's types and a crate's own bindings of
//! the same WIT types (each `bindgen!` makes types of its own).

/// Writes the conversions between this crate's types and the calling
/// crate's bindings of `sme:policy`'s `containers` and `services` types,
/// named as they are in scope where it is called, and makes the bindings'
/// `container` a [`lifecycle::Holds`](crate::lifecycle::Holds):
///
/// ```ignore
/// sme_model::wit_types! {
///     status: Status, health: Health, container: Container,
///     mode: Mode, task_state: TaskState, update_state: UpdateState,
///     task: Task, service: Service, summary: ServiceSummary,
/// }
/// ```
#[macro_export]
macro_rules! wit_types {
    (
        status: $status:ident, health: $health:ident, container: $container:ident,
        mode: $mode:ident, task_state: $task_state:ident, update_state: $update_state:ident,
        task: $task:ident, service: $service:ident, summary: $summary:ident $(,)?
    ) => {
        $crate::__same_enum!(Status, $status:
            Created, Running, Paused, Restarting, Removing, Exited, Dead);
        $crate::__same_enum!(Health, $health: None, Starting, Healthy, Unhealthy);
        $crate::__same_enum!(Mode, $mode: Replicated, Global);
        $crate::__same_enum!(TaskState, $task_state:
            New, Allocated, Pending, Assigned, Accepted, Preparing, Ready, Starting,
            Running, Complete, Shutdown, Failed, Rejected, Remove, Orphaned);
        $crate::__same_enum!(UpdateState, $update_state:
            None, Updating, Paused, Completed, RollbackStarted, RollbackPaused,
            RollbackCompleted);
        $crate::__same_struct!(Task, $task:
            id, node_id, slot, desired_state, state, message, err, container_id,
            exit_code, updated_ms);
        $crate::__same_struct!(Summary, $summary: id, name, image, mode, replicas, labels);

        impl From<$crate::Service> for $service {
            fn from(value: $crate::Service) -> $service {
                $crate::__fields!(value: id, name, image, mode, replicas,
                    desired_tasks, running_tasks, update_state, update_message, labels,
                    version, created_ms, updated_ms; tasks)
            }
        }

        impl From<$service> for $crate::Service {
            fn from(value: $service) -> $crate::Service {
                $crate::__fields!(value: id, name, image, mode, replicas,
                    desired_tasks, running_tasks, update_state, update_message, labels,
                    version, created_ms, updated_ms; tasks)
            }
        }

        impl $crate::lifecycle::Holds for $container {
            fn id(&self) -> &str {
                &self.id
            }

            fn lifecycle(&self) -> $crate::Lifecycle {
                $crate::Lifecycle {
                    status: self.status.into(),
                    running: self.running,
                    exit_code: self.exit_code,
                    started_ms: self.started_ms,
                    finished_ms: self.finished_ms,
                    health: self.health.into(),
                }
            }

            fn set_lifecycle(&mut self, lifecycle: $crate::Lifecycle) {
                self.status = lifecycle.status.into();
                self.running = lifecycle.running;
                self.exit_code = lifecycle.exit_code;
                self.started_ms = lifecycle.started_ms;
                self.finished_ms = lifecycle.finished_ms;
                self.health = lifecycle.health.into();
            }
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __same_enum {
    ($ours:ident, $theirs:ident: $($variant:ident),+ $(,)?) => {
        impl From<$crate::$ours> for $theirs {
            fn from(value: $crate::$ours) -> $theirs {
                match value {
                    $($crate::$ours::$variant => $theirs::$variant,)+
                }
            }
        }

        impl From<$theirs> for $crate::$ours {
            fn from(value: $theirs) -> $crate::$ours {
                match value {
                    $($theirs::$variant => $crate::$ours::$variant,)+
                }
            }
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __same_struct {
    ($ours:ident, $theirs:ident: $($field:ident),+ $(,)?) => {
        impl From<$crate::$ours> for $theirs {
            fn from(value: $crate::$ours) -> $theirs {
                $crate::__fields!(value: $($field),+;)
            }
        }

        impl From<$theirs> for $crate::$ours {
            fn from(value: $theirs) -> $crate::$ours {
                $crate::__fields!(value: $($field),+;)
            }
        }
    };
}

/// `Self` built from the record `value`, field by field (`into` each),
/// and its list fields item by item.
#[doc(hidden)]
#[macro_export]
macro_rules! __fields {
    ($value:ident: $($field:ident),+; $($list:ident),*) => {
        Self {
            $($field: $value.$field.into(),)+
            $($list: $value.$list.into_iter().map(Into::into).collect(),)*
        }
    };
}
