//! Two-level minimisation of a truth table over at most six facts (Quine–McCluskey), so that
//! a compiled decision becomes a short SQL `WHERE`: a disjunction of conjunctions of facts.
//!
//! Tables are tiny (≤ 64 rows), so the exact algorithm is cheap: all prime implicants, then
//! the smallest cover (essential primes first, then an exhaustive search over the rest, with
//! a greedy fallback if that search would be large).

/// Maximum number of variables.
pub const MAX_VARS: usize = 6;

/// A product term: the variables in `care` must equal the corresponding bits of `value`; the
/// others are free. `care == 0` is the constant true.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cube {
    /// Which variables the term tests.
    pub care: u8,
    /// Their required values (bits outside `care` are zero).
    pub value: u8,
}

impl Cube {
    /// Whether assignment `x` satisfies the term.
    pub fn covers(self, x: u8) -> bool {
        x & self.care == self.value
    }

    /// Number of literals.
    pub fn literals(self) -> u32 {
        self.care.count_ones()
    }

    /// The literals as (variable, required value), lowest variable first.
    pub fn iter(self) -> impl Iterator<Item = (usize, bool)> {
        (0..MAX_VARS)
            .filter(move |v| self.care & (1 << v) != 0)
            .map(move |v| (v, self.value & (1 << v) != 0))
    }
}

/// A sum of products; empty is the constant false.
pub type Dnf = Vec<Cube>;

/// Evaluates `dnf` at assignment `x`.
pub fn eval(dnf: &[Cube], x: u8) -> bool {
    dnf.iter().any(|c| c.covers(x))
}

/// The truth table of `dnf` over `vars` variables (bit `x` set iff true at `x`).
pub fn table_of(dnf: &[Cube], vars: usize) -> u64 {
    (0..1u32 << vars)
        .filter(|&x| eval(dnf, x as u8))
        .fold(0, |t, x| t | (1 << x))
}

/// A minimal sum of products for the function over `vars` variables whose truth table is
/// `table` (bit `x` set iff the function is true at assignment `x`).
pub fn minimize(table: u64, vars: usize) -> Dnf {
    assert!(vars <= MAX_VARS, "at most {MAX_VARS} variables");
    let size = 1u32 << vars;
    let table = if size == 64 {
        table
    } else {
        table & ((1u64 << size) - 1)
    };
    if table == 0 {
        return Vec::new();
    }
    let full = if size == 64 {
        u64::MAX
    } else {
        (1u64 << size) - 1
    };
    if table == full {
        return vec![Cube { care: 0, value: 0 }];
    }

    let primes = prime_implicants(table, vars);
    let minterms: Vec<u8> = (0..size as u8).filter(|&x| table & (1 << x) != 0).collect();
    let mut cover = choose_cover(&primes, &minterms);
    cover.sort_by_key(|c| (c.literals(), c.care, c.value));
    cover
}

/// All prime implicants of the on-set `table`.
fn prime_implicants(table: u64, vars: usize) -> Vec<Cube> {
    let all = ((1u16 << vars) - 1) as u8;
    let mut current: Vec<Cube> = (0..1u32 << vars)
        .filter(|&x| table & (1 << x) != 0)
        .map(|x| Cube {
            care: all,
            value: x as u8,
        })
        .collect();
    let mut primes = Vec::new();
    while !current.is_empty() {
        let mut used = vec![false; current.len()];
        let mut next: Vec<Cube> = Vec::new();
        for i in 0..current.len() {
            for j in i + 1..current.len() {
                let (a, b) = (current[i], current[j]);
                if a.care != b.care {
                    continue;
                }
                let diff = a.value ^ b.value;
                if diff.count_ones() == 1 {
                    used[i] = true;
                    used[j] = true;
                    let merged = Cube {
                        care: a.care & !diff,
                        value: a.value & !diff,
                    };
                    if !next.contains(&merged) {
                        next.push(merged);
                    }
                }
            }
        }
        for (cube, used) in current.iter().zip(used) {
            if !used && !primes.contains(cube) {
                primes.push(*cube);
            }
        }
        current = next;
    }
    primes
}

/// The smallest set of `primes` covering every minterm (fewest cubes, then fewest literals).
fn choose_cover(primes: &[Cube], minterms: &[u8]) -> Vec<Cube> {
    let mut chosen: Vec<Cube> = Vec::new();
    // Essential primes: the only prime covering some minterm.
    for &m in minterms {
        let covering: Vec<&Cube> = primes.iter().filter(|p| p.covers(m)).collect();
        if let [only] = covering.as_slice()
            && !chosen.contains(only)
        {
            chosen.push(**only);
        }
    }
    let remaining: Vec<u8> = minterms
        .iter()
        .copied()
        .filter(|&m| !eval(&chosen, m))
        .collect();
    if remaining.is_empty() {
        return chosen;
    }
    let candidates: Vec<Cube> = primes
        .iter()
        .copied()
        .filter(|p| !chosen.contains(p) && remaining.iter().any(|&m| p.covers(m)))
        .collect();

    // Exhaustive search by increasing size, when small enough (it always is for ≤ 4
    // variables; larger pathological tables fall back to greedy).
    const EXHAUSTIVE_LIMIT: usize = 16;
    if candidates.len() <= EXHAUSTIVE_LIMIT {
        let n = candidates.len();
        let mut best: Option<(u32, u32, u32)> = None; // (count, literals, subset)
        for subset in 1u32..(1 << n) {
            let count = subset.count_ones();
            if best.is_some_and(|(c, _, _)| count > c) {
                continue;
            }
            let picked = (0..n).filter(|i| subset & (1 << i) != 0);
            let covers_all = remaining.iter().all(|&m| {
                (0..n)
                    .filter(|i| subset & (1 << i) != 0)
                    .any(|i| candidates[i].covers(m))
            });
            if !covers_all {
                continue;
            }
            let literals: u32 = picked.map(|i| candidates[i].literals()).sum();
            if best.is_none_or(|(c, l, _)| (count, literals) < (c, l)) {
                best = Some((count, literals, subset));
            }
        }
        if let Some((_, _, subset)) = best {
            chosen.extend(
                (0..n)
                    .filter(|i| subset & (1 << i) != 0)
                    .map(|i| candidates[i]),
            );
            return chosen;
        }
    }

    // Greedy: repeatedly take the prime covering most uncovered minterms (fewest literals on
    // ties).
    let mut uncovered = remaining;
    while !uncovered.is_empty() {
        let best = candidates
            .iter()
            .copied()
            .max_by_key(|p| {
                let n = uncovered.iter().filter(|&&m| p.covers(m)).count();
                (n, std::cmp::Reverse(p.literals()))
            })
            .expect("every minterm has a prime implicant");
        chosen.push(best);
        uncovered.retain(|&m| !best.covers(m));
    }
    chosen
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    fn cube(care: u8, value: u8) -> Cube {
        Cube { care, value }
    }

    #[test]
    fn constants() {
        for vars in 0..=MAX_VARS {
            assert_eq!(minimize(0, vars), Vec::<Cube>::new());
            let full = if vars == 6 {
                u64::MAX
            } else {
                (1u64 << (1 << vars)) - 1
            };
            assert_eq!(minimize(full, vars), vec![cube(0, 0)]);
        }
    }

    #[test]
    fn single_variable() {
        // x0 over two variables: true at 0b01 and 0b11.
        assert_eq!(minimize(0b1010, 2), vec![cube(0b01, 0b01)]);
        // not x1 over two variables: true at 0b00 and 0b01.
        assert_eq!(minimize(0b0011, 2), vec![cube(0b10, 0b00)]);
    }

    #[test]
    fn disjunction_of_two_variables() {
        // x0 or x1 over three variables.
        let table = table_of(&[cube(0b001, 0b001), cube(0b010, 0b010)], 3);
        assert_eq!(
            minimize(table, 3),
            vec![cube(0b001, 0b001), cube(0b010, 0b010)]
        );
    }

    #[test]
    fn classic_example() {
        // f = Σm(4,8,10,11,12,15) over four variables: three cubes (x2 x̄1 x̄0 covers 4,12;
        // x3 x̄2 x̄0 covers 8,10; x3 x1 x0 covers 11,15).
        let ms = [4u8, 8, 10, 11, 12, 15];
        let table = ms.iter().fold(0u64, |t, &m| t | (1 << m));
        let dnf = minimize(table, 4);
        assert_eq!(table_of(&dnf, 4), table);
        assert_eq!(dnf.len(), 3);
    }

    #[test]
    fn xor_needs_every_minterm() {
        // x0 xor x1 xor x2: no two minterms merge.
        let table = (0..8u32)
            .filter(|x| x.count_ones() % 2 == 1)
            .fold(0u64, |t, x| t | (1 << x));
        let dnf = minimize(table, 3);
        assert_eq!(dnf.len(), 4);
        assert!(dnf.iter().all(|c| c.literals() == 3));
        assert_eq!(table_of(&dnf, 3), table);
    }

    #[test]
    fn deal_read_shape() {
        // owned_by or in_team_of or shared_view or shared_edit over four facts.
        let table = (0..16u32)
            .filter(|&x| x != 0)
            .fold(0u64, |t, x| t | (1 << x));
        let dnf = minimize(table, 4);
        assert_eq!(dnf.len(), 4);
        assert!(dnf.iter().all(|c| c.literals() == 1));
    }

    #[test]
    fn random_tables_round_trip_and_use_primes_only() {
        let mut rng = StdRng::seed_from_u64(7);
        for vars in 0..=MAX_VARS {
            for _ in 0..300 {
                let size = 1u32 << vars;
                let mask = if size == 64 {
                    u64::MAX
                } else {
                    (1u64 << size) - 1
                };
                let table = rng.r#gen::<u64>() & mask;
                let dnf = minimize(table, vars);
                assert_eq!(table_of(&dnf, vars), table, "vars={vars} table={table:#x}");
                // No cube can drop a literal and stay inside the on-set (all are prime).
                for c in &dnf {
                    for (v, _) in c.iter() {
                        let wider = Cube {
                            care: c.care & !(1 << v),
                            value: c.value & !(1 << v),
                        };
                        let implied = (0..size as u8)
                            .filter(|&x| wider.covers(x))
                            .all(|x| table & (1 << x) != 0);
                        assert!(!implied, "cube {c:?} is not prime for {table:#x}");
                    }
                }
            }
        }
    }

    #[test]
    fn cover_is_minimal_for_every_three_variable_function() {
        // Each of the 27 cubes over three variables, as the set of assignments it covers.
        let cube_tables: Vec<u64> = (0..27u32)
            .map(|mut n| {
                let mut c = cube(0, 0);
                for v in 0..3 {
                    match n % 3 {
                        0 => {}
                        1 => c.care |= 1 << v,
                        _ => {
                            c.care |= 1 << v;
                            c.value |= 1 << v;
                        }
                    }
                    n /= 3;
                }
                table_of(&[c], 3)
            })
            .collect();
        for table in 0u64..256 {
            // Breadth-first search over unions of cubes inside the on-set.
            let inside: Vec<u64> = cube_tables
                .iter()
                .copied()
                .filter(|ct| ct & !table == 0)
                .collect();
            let mut dist = [u32::MAX; 256];
            dist[0] = 0;
            let mut frontier = vec![0u64];
            while dist[table as usize] == u32::MAX {
                let mut next = Vec::new();
                for &state in &frontier {
                    for &ct in &inside {
                        let s = (state | ct) as usize;
                        if dist[s] == u32::MAX {
                            dist[s] = dist[state as usize] + 1;
                            next.push(s as u64);
                        }
                    }
                }
                frontier = next;
            }
            let dnf = minimize(table, 3);
            assert_eq!(
                dnf.len() as u32,
                dist[table as usize],
                "table {table:#010b}"
            );
        }
    }
}
