//! Connection admission: which connections may hold a place, and how many.
//!
//! Two budgets, so that connections nobody has authenticated cannot take the places that
//! authenticated principals need (docs/SECURITY.md, "Connections"):
//!
//! - every new connection first takes a place in the **unauthenticated** budget: a global
//!   count, and a count per source address; with none left the connection is closed at once,
//!   before the TLS handshake;
//! - once it is authenticated (a client certificate from a configured CA at the handshake, or
//!   the first request whose bearer token verifies), it moves to the **authenticated** budget
//!   and gives its unauthenticated place back.
//!
//! A [`Slot`] is the place a connection holds; dropping it gives the place back.
//!
//! Layer: http. Owns the connection budgets; it must not know routes, principals' roles or
//! keys.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The sizes of the budgets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdmissionLimits {
    /// Authenticated connections open at once.
    pub max_authenticated: usize,
    /// Connections not (yet) authenticated, open at once, from all addresses.
    pub max_unauthenticated: usize,
    /// Connections not (yet) authenticated, open at once, from one source address.
    pub max_unauthenticated_per_address: usize,
}

/// Why a connection was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The unauthenticated budget is spent.
    Unauthenticated,
    /// This source address has its share of the unauthenticated budget.
    PerAddress,
    /// The authenticated budget is spent.
    Authenticated,
}

impl Refusal {
    /// A label for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unauthenticated => "unauthenticated_budget",
            Self::PerAddress => "per_address",
            Self::Authenticated => "authenticated_budget",
        }
    }
}

/// The budgets of one listener.
#[derive(Debug)]
pub struct Admission {
    limits: AdmissionLimits,
    authenticated: Arc<Semaphore>,
    unauthenticated: Arc<Semaphore>,
    per_address: Mutex<HashMap<IpAddr, usize>>,
}

impl Admission {
    /// Budgets of the given sizes.
    pub fn new(limits: AdmissionLimits) -> Arc<Self> {
        Arc::new(Self {
            limits,
            authenticated: Arc::new(Semaphore::new(limits.max_authenticated)),
            unauthenticated: Arc::new(Semaphore::new(limits.max_unauthenticated)),
            per_address: Mutex::new(HashMap::new()),
        })
    }

    fn addresses(&self) -> MutexGuard<'_, HashMap<IpAddr, usize>> {
        // Counts are updated in one step each; a poisoned lock still holds valid counts.
        self.per_address.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new connection from `address`: a place in the unauthenticated budget.
    pub fn arrive(self: &Arc<Self>, address: IpAddr) -> Result<Slot, Refusal> {
        {
            let mut counts = self.addresses();
            let count = counts.entry(address).or_insert(0);
            if *count >= self.limits.max_unauthenticated_per_address {
                return Err(Refusal::PerAddress);
            }
            *count += 1;
        }
        let share = AddressShare {
            admission: self.clone(),
            address,
        };
        let permit = self
            .unauthenticated
            .clone()
            .try_acquire_owned()
            .map_err(|_| Refusal::Unauthenticated)?;
        Ok(Slot {
            admission: self.clone(),
            place: Mutex::new(Place::Unauthenticated {
                _permit: permit,
                _share: share,
            }),
        })
    }

    /// Connections open now, (authenticated, unauthenticated).
    pub fn open(&self) -> (usize, usize) {
        (
            self.limits.max_authenticated - self.authenticated.available_permits(),
            self.limits.max_unauthenticated - self.unauthenticated.available_permits(),
        )
    }
}

/// One source address's count, given back on drop.
#[derive(Debug)]
struct AddressShare {
    admission: Arc<Admission>,
    address: IpAddr,
}

impl Drop for AddressShare {
    fn drop(&mut self) {
        let mut counts = self.admission.addresses();
        if let Some(count) = counts.get_mut(&self.address) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                counts.remove(&self.address);
            }
        }
    }
}

#[derive(Debug)]
enum Place {
    Unauthenticated {
        _permit: OwnedSemaphorePermit,
        _share: AddressShare,
    },
    Authenticated(#[allow(dead_code)] OwnedSemaphorePermit),
}

/// The place one connection holds.
#[derive(Debug)]
pub struct Slot {
    admission: Arc<Admission>,
    place: Mutex<Place>,
}

impl Slot {
    fn place(&self) -> MutexGuard<'_, Place> {
        self.place.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The connection has authenticated: move it to the authenticated budget. Refused when
    /// that budget is spent (the connection keeps its unauthenticated place).
    pub fn authenticate(&self) -> Result<(), Refusal> {
        let mut place = self.place();
        if matches!(*place, Place::Authenticated(_)) {
            return Ok(());
        }
        let permit = self
            .admission
            .authenticated
            .clone()
            .try_acquire_owned()
            .map_err(|_| Refusal::Authenticated)?;
        // Replacing the place drops the unauthenticated permit and address share.
        *place = Place::Authenticated(permit);
        Ok(())
    }

    /// Whether the connection has authenticated.
    pub fn is_authenticated(&self) -> bool {
        matches!(*self.place(), Place::Authenticated(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> AdmissionLimits {
        AdmissionLimits {
            max_authenticated: 2,
            max_unauthenticated: 3,
            max_unauthenticated_per_address: 2,
        }
    }

    fn ip(n: u8) -> IpAddr {
        IpAddr::from([127, 0, 0, n])
    }

    #[test]
    fn per_address_and_global_budgets_hold() {
        let a = Admission::new(limits());
        let s1 = a.arrive(ip(1)).unwrap();
        let _s2 = a.arrive(ip(1)).unwrap();
        assert_eq!(a.arrive(ip(1)).unwrap_err(), Refusal::PerAddress);
        let _s3 = a.arrive(ip(2)).unwrap();
        assert_eq!(a.arrive(ip(3)).unwrap_err(), Refusal::Unauthenticated);
        // A refused arrival gave its address share back.
        assert_eq!(a.addresses().get(&ip(3)), None);
        drop(s1);
        let _s4 = a.arrive(ip(1)).unwrap();
        assert_eq!(a.open(), (0, 3));
    }

    #[test]
    fn authenticating_moves_a_connection_between_budgets() {
        let a = Admission::new(limits());
        let slots: Vec<Slot> = (1..=3).map(|n| a.arrive(ip(n)).unwrap()).collect();
        assert!(a.arrive(ip(9)).is_err());
        slots[0].authenticate().unwrap();
        slots[0].authenticate().unwrap(); // twice is once
        assert!(slots[0].is_authenticated());
        assert_eq!(a.open(), (1, 2));
        // Its unauthenticated place and address share are free again.
        let extra = a.arrive(ip(1)).unwrap();
        slots[1].authenticate().unwrap();
        assert_eq!(slots[2].authenticate().unwrap_err(), Refusal::Authenticated);
        assert!(!slots[2].is_authenticated());
        assert_eq!(a.open(), (2, 2));
        drop(slots);
        drop(extra);
        assert_eq!(a.open(), (0, 0));
        assert!(a.addresses().is_empty());
    }
}
