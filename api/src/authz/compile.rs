//! Compiling the policy into truth tables: for every role, kind, action and combination of
//! the kind's facts, one `is_allowed` query with a synthetic actor and resource.
//!
//! Each (role, kind, action) becomes a `u64` (bit `m` = allowed when the facts are `m`) and
//! its minimised DNF, from which SQL scopes are built. Compilation is a pure function of the
//! policy text, so results are memoised per text for the life of the process: tests that
//! start many servers on the same files pay for it once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex};

use entity::enums::Role;
use oso::Oso;

use super::facts;
use super::minimize::{Dnf, minimize};
use super::model::{FactMask, Kind, ROLES, role_index, role_name};
use super::polar::{Misuse, PolarResource, PolarUser, Synthetic};
use super::policy::{PolicyError, PolicySource, load_oso};

/// The largest number of actions of any kind.
const MAX_ACTIONS: usize = {
    let mut max = 0;
    let mut i = 0;
    while i < Kind::ALL.len() {
        let n = Kind::ALL[i].actions().len();
        if n > max {
            max = n;
        }
        i += 1;
    }
    max
};

const SLOTS: usize = ROLES.len() * Kind::ALL.len() * MAX_ACTIONS;

fn slot(role: Role, kind: Kind, action: usize) -> usize {
    (role_index(role) * Kind::ALL.len() + kind.index()) * MAX_ACTIONS + action
}

/// The compiled decisions.
pub(crate) struct Tables {
    truth: Vec<u64>,
    dnf: Vec<Dnf>,
    /// Per (role, kind): the facts some action's decision depends on.
    relevant: Vec<FactMask>,
}

impl Tables {
    /// The truth table of (role, kind, action index).
    pub(crate) fn truth(&self, role: Role, kind: Kind, action: usize) -> u64 {
        self.truth[slot(role, kind, action)]
    }

    /// The minimised DNF of (role, kind, action index).
    pub(crate) fn dnf(&self, role: Role, kind: Kind, action: usize) -> &Dnf {
        &self.dnf[slot(role, kind, action)]
    }

    /// The facts at least one decision of `role` on `kind` depends on.
    pub(crate) fn relevant(&self, role: Role, kind: Kind) -> FactMask {
        self.relevant[role_index(role) * Kind::ALL.len() + kind.index()]
    }
}

/// The variables `table` (over `vars` variables) depends on.
fn dependencies(table: u64, vars: usize) -> u8 {
    let mut depends = 0u8;
    for var in 0..vars {
        let bit = 1u32 << var;
        let differs = (0..1u32 << vars)
            .filter(|m| m & bit == 0)
            .any(|m| (table >> m) & 1 != (table >> (m | bit)) & 1);
        if differs {
            depends |= 1 << var;
        }
    }
    depends
}

/// A loaded and compiled policy.
pub(crate) struct Compiled {
    pub(crate) oso: Oso,
    pub(crate) tables: Tables,
    pub(crate) files: Vec<String>,
    /// The sha256 of the files' names and text, in hex: the same policy on every instance
    /// and after a restart has the same fingerprint.
    pub(crate) fingerprint: String,
}

static CACHE: LazyLock<Mutex<HashMap<Vec<PolicySource>, Arc<Compiled>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// Loads and compiles `sources`, or returns the memoised result for the same text.
pub(crate) fn compile_sources(sources: Vec<PolicySource>) -> Result<Arc<Compiled>, PolicyError> {
    // Holding the lock while compiling makes concurrent loads of the same policy wait for one
    // compilation instead of all doing it.
    let mut cache = CACHE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(hit) = cache.get(&sources) {
        return Ok(hit.clone());
    }
    let oso = load_oso(&sources)?;
    let tables = compile(&oso)?;
    let compiled = Arc::new(Compiled {
        oso,
        tables,
        files: sources.iter().map(|s| s.name.clone()).collect(),
        fingerprint: fingerprint(&sources),
    });
    cache.insert(sources, compiled.clone());
    Ok(compiled)
}

/// The sha256 of `sources` (each name and text, length-prefixed), in hex.
fn fingerprint(sources: &[PolicySource]) -> String {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    for s in sources {
        for part in [&s.name, &s.text] {
            hash.update((part.len() as u64).to_le_bytes());
            hash.update(part.as_bytes());
        }
    }
    hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// One unit of work: every fact combination of (role, kind, action).
#[derive(Clone, Copy)]
struct Job {
    role: Role,
    kind: Kind,
    action: usize,
}

/// Asks the policy every question, on all cores.
fn compile(oso: &Oso) -> Result<Tables, PolicyError> {
    let jobs: Vec<Job> = ROLES
        .iter()
        .flat_map(|&role| {
            Kind::ALL.iter().flat_map(move |&kind| {
                (0..kind.actions().len()).map(move |action| Job { role, kind, action })
            })
        })
        .collect();
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(jobs.len());
    let next = AtomicUsize::new(0);
    let mut results: Vec<(usize, Result<u64, PolicyError>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(job) = jobs.get(i) else { break };
                        done.push((i, truth_table(oso, *job)));
                    }
                    done
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("policy compilation panicked"))
            .collect()
    });
    // Report the first failing question in a stable order.
    results.sort_by_key(|(i, _)| *i);

    let mut truth = vec![0u64; SLOTS];
    let mut dnf = vec![Dnf::new(); SLOTS];
    let mut relevant = vec![FactMask::NONE; ROLES.len() * Kind::ALL.len()];
    for (i, result) in results {
        let job = jobs[i];
        let table = result?;
        let vars = job.kind.fact_count();
        let s = slot(job.role, job.kind, job.action);
        truth[s] = table;
        dnf[s] = minimize(table, vars);
        let r = &mut relevant[role_index(job.role) * Kind::ALL.len() + job.kind.index()];
        *r = FactMask::from_bits(r.bits() | dependencies(table, vars));
    }
    Ok(Tables {
        truth,
        dnf,
        relevant,
    })
}

/// The truth table of one (role, kind, action).
fn truth_table(oso: &Oso, job: Job) -> Result<u64, PolicyError> {
    let Job { role, kind, action } = job;
    let action_name = kind.actions()[action].polar();
    let actor = PolarUser::synthetic_actor(role);
    let mut table = 0u64;
    for bits in 0..kind.combinations() {
        let facts = FactMask::from_bits(bits as u8);
        let synthetic = Synthetic {
            facts,
            misuse: Misuse::default(),
        };
        let resource = PolarResource::synthetic(kind, synthetic.clone());
        let fail = |message: String| PolicyError::Evaluation {
            role: role_name(role),
            kind,
            action: action_name,
            facts: describe_facts(kind, facts),
            message,
        };
        let allowed = resource
            .is_allowed(oso, &actor, action_name)
            .map_err(|e| fail(e.to_string()))?;
        if let Some(message) = synthetic.misuse.get() {
            return Err(fail(message.to_owned()));
        }
        if allowed {
            table |= 1 << bits;
        }
    }
    Ok(table)
}

/// `owned_by(user), shared_with(user, "view")`, or `no fact`.
pub(crate) fn describe_facts(kind: Kind, facts: FactMask) -> String {
    let held: Vec<String> = (0..kind.fact_count())
        .filter(|&bit| facts.bits() >> bit & 1 == 1)
        .filter_map(|bit| facts::meaning(kind, bit))
        .map(|m| m.polar.to_string())
        .collect();
    if held.is_empty() {
        "no fact".to_owned()
    } else {
        held.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::dependencies;

    #[test]
    fn dependencies_of_tables() {
        // x0 over two variables.
        assert_eq!(dependencies(0b1010, 2), 0b01);
        // x0 or x1.
        assert_eq!(dependencies(0b1110, 2), 0b11);
        // constants depend on nothing
        assert_eq!(dependencies(0, 3), 0);
        assert_eq!(dependencies(0xFF, 3), 0);
        // x2 over three variables
        assert_eq!(dependencies(0xF0, 3), 0b100);
    }
}
