//! RAM-only process hardening (Linux).
//!
//! Key material must never reach disk: not through a core dump, not through swap, not through
//! another process reading our memory. At start the service:
//! 1. sets `RLIMIT_CORE` to 0 (no core files),
//! 2. sets `PR_SET_DUMPABLE` to 0 (no core dumps, and `/proc/<pid>/mem` and ptrace closed to
//!    other non-root processes of the same user),
//! 3. tries `mlockall(MCL_CURRENT | MCL_FUTURE)` so no page is swapped out; whether this must
//!    succeed is configured ([`MlockMode`]). It needs `CAP_IPC_LOCK` or a large enough
//!    `RLIMIT_MEMLOCK`.
//!
//! What was achieved is reported at start and on `/readyz`. This module uses the `nix` crate's
//! safe wrappers, so the crate stays free of `unsafe` code.
//!
//! Layer: a leaf, like `clock` and `metrics`: the node applies it at start and the HTTP layer
//! shows its [`HardeningReport`] on `/readyz`. Owns the process's memory protections and their
//! setting ([`MlockMode`], `hardening.mlock`); it imports nothing of the crate and knows
//! nothing of keys, routes or the audit log.

use serde::{Deserialize, Serialize};

/// What to do if memory cannot be locked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum MlockMode {
    /// Refuse to start unless `mlockall` succeeds.
    Required,
    /// Try `mlockall`, report the outcome, start anyway (the default).
    #[default]
    BestEffort,
    /// Do not try.
    Off,
}

/// What hardening achieved.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct HardeningReport {
    /// Core dumps disabled (RLIMIT_CORE = 0).
    pub core_dumps_disabled: bool,
    /// Process marked non-dumpable.
    pub non_dumpable: bool,
    /// All memory locked (no swap).
    pub memory_locked: bool,
    /// Why something could not be done.
    pub notes: Vec<String>,
}

/// mlockall was required and failed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("mlockall was required (hardening.mlock = \"required\") but failed: {0}")]
pub struct HardeningError(pub String);

/// Applies every hardening step the platform allows.
pub fn harden(mlock: MlockMode) -> Result<HardeningReport, HardeningError> {
    let mut report = HardeningReport {
        core_dumps_disabled: false,
        non_dumpable: false,
        memory_locked: false,
        notes: Vec::new(),
    };
    platform::apply(mlock, &mut report)?;
    Ok(report)
}

#[cfg(target_os = "linux")]
mod platform {
    use super::*;
    use nix::sys::mman::{MlockAllFlags, mlockall};
    use nix::sys::prctl;
    use nix::sys::resource::{Resource, setrlimit};

    pub(super) fn apply(
        mlock: MlockMode,
        report: &mut HardeningReport,
    ) -> Result<(), HardeningError> {
        match setrlimit(Resource::RLIMIT_CORE, 0, 0) {
            Ok(()) => report.core_dumps_disabled = true,
            Err(e) => report.notes.push(format!("RLIMIT_CORE: {e}")),
        }
        match prctl::set_dumpable(false) {
            Ok(()) => report.non_dumpable = true,
            Err(e) => report.notes.push(format!("PR_SET_DUMPABLE: {e}")),
        }
        if mlock != MlockMode::Off {
            match mlockall(MlockAllFlags::MCL_CURRENT | MlockAllFlags::MCL_FUTURE) {
                Ok(()) => report.memory_locked = true,
                Err(e) if mlock == MlockMode::Required => {
                    return Err(HardeningError(e.to_string()));
                }
                Err(e) => report.notes.push(format!(
                    "mlockall: {e} (needs CAP_IPC_LOCK or a larger RLIMIT_MEMLOCK)"
                )),
            }
        } else {
            report.notes.push("mlockall: off by configuration".into());
        }
        Ok(())
    }
}

#[cfg(not(target_os = "linux"))]
mod platform {
    use super::*;

    pub(super) fn apply(
        mlock: MlockMode,
        report: &mut HardeningReport,
    ) -> Result<(), HardeningError> {
        if mlock == MlockMode::Required {
            return Err(HardeningError("not supported on this platform".into()));
        }
        report
            .notes
            .push("hardening is implemented for Linux only".into());
        Ok(())
    }
}
