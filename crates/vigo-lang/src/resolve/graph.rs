//! References between resources of one bundle, resolved the way the agent's planner
//! resolves them — a resource name of the same crate, `crate/name`, or a crate name (all
//! its resources) — and the dependency graph they form, which must be acyclic.
//!
//! Ordering edges: `depends_on`, `before` (reversed), and crate-level `depends_on`
//! (through one node per crate, so the graph stays linear in size). `notify` and
//! `subscribes` do not order; their targets must be notify targets (`when: "changed"`).

use std::collections::HashMap;

use crate::diag::{Diagnostic, Errors, did_you_mean};
use crate::model::{Named, Origin};

/// One resource of the bundle being checked.
pub(crate) struct Node<'a> {
    /// Its crate (bundle name).
    pub krate: &'a str,
    /// Its name.
    pub name: &'a str,
    /// Whether it is a notify target.
    pub changed: bool,
    /// Where it is defined.
    pub origin: &'a Origin,
    /// `(key, references)` as written.
    pub refs: [(&'static str, &'a [Named]); 4],
}

/// One crate of the bundle being checked.
pub(crate) struct CrateNode<'a> {
    /// Its bundle name.
    pub name: &'a str,
    /// Its crate-level dependencies (bundle names).
    pub depends_on: &'a [String],
}

enum Target {
    One(usize),
    Crate(usize),
}

/// Checks references and cycles; problems go to `errors`.
pub(crate) fn check(crates: &[CrateNode<'_>], nodes: &[Node<'_>], errors: &mut Errors) {
    let crate_index: HashMap<&str, usize> = crates
        .iter()
        .enumerate()
        .map(|(i, c)| (c.name, i))
        .collect();
    let mut by_id: HashMap<(&str, &str), usize> = HashMap::with_capacity(nodes.len());
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); crates.len()];
    for (i, n) in nodes.iter().enumerate() {
        by_id.insert((n.krate, n.name), i);
        if let Some(&c) = crate_index.get(n.krate) {
            members[c].push(i);
        }
    }
    let resolve = |krate: &str, reference: &str| -> Option<Target> {
        if let Some(&i) = by_id.get(&(krate, reference)) {
            return Some(Target::One(i));
        }
        if let Some((c, n)) = reference.split_once('/')
            && let Some(&i) = by_id.get(&(c, n))
        {
            return Some(Target::One(i));
        }
        crate_index.get(reference).map(|&c| Target::Crate(c))
    };
    // Graph: nodes 0..n are resources, n..n+c are crates ("all of crate c").
    let n = nodes.len();
    let mut edges: Vec<Vec<usize>> = vec![Vec::new(); n + crates.len()];
    for (ci, c) in crates.iter().enumerate() {
        edges[n + ci].extend(members[ci].iter().copied());
        for d in c.depends_on {
            if let Some(&di) = crate_index.get(d.as_str()) {
                for &m in &members[ci] {
                    edges[m].push(n + di);
                }
            }
        }
    }
    for (i, node) in nodes.iter().enumerate() {
        let context = format!("configcrate \"{}\" resource \"{}\"", node.krate, node.name);
        for (key, list) in node.refs {
            for r in list {
                let Some(target) = resolve(node.krate, &r.name) else {
                    let same_crate = nodes
                        .iter()
                        .filter(|m| m.krate == node.krate)
                        .map(|m| m.name);
                    let candidates = same_crate.chain(crates.iter().map(|c| c.name));
                    errors.push(
                        Diagnostic::new(
                            &node.origin.file,
                            r.pos,
                            &context,
                            format!("unknown {key} target `{}`", r.name),
                        )
                        .with_hint(did_you_mean(&r.name, candidates)),
                    );
                    continue;
                };
                let to = match target {
                    Target::One(t) => t,
                    Target::Crate(c) => n + c,
                };
                match key {
                    "depends_on" => edges[i].push(to),
                    "before" => match target {
                        Target::One(t) => edges[t].push(i),
                        Target::Crate(c) => {
                            for &m in &members[c] {
                                edges[m].push(i);
                            }
                        }
                    },
                    "notify" => {
                        if let Target::One(t) = target
                            && !nodes[t].changed
                        {
                            errors.push(Diagnostic::new(
                                &node.origin.file,
                                r.pos,
                                &context,
                                format!("notify target `{}` must have `when: \"changed\"`", r.name),
                            ));
                        }
                    }
                    _ => {
                        if !node.changed {
                            errors.push(Diagnostic::new(
                                &node.origin.file,
                                r.pos,
                                &context,
                                "a resource with `subscribes` must have `when: \"changed\"`",
                            ));
                        }
                    }
                }
            }
        }
    }
    if let Some(cycle) = find_cycle(&edges) {
        let label = |v: usize| {
            if v < n {
                format!("{}/{}", nodes[v].krate, nodes[v].name)
            } else {
                format!("configcrate {}", crates[v - n].name)
            }
        };
        let first = cycle.iter().copied().find(|&v| v < n).unwrap_or(cycle[0]);
        let mut path: Vec<String> = cycle.iter().map(|&v| label(v)).collect();
        path.push(label(cycle[0]));
        let (file, pos) = if first < n {
            (nodes[first].origin.file.as_str(), nodes[first].origin.pos)
        } else {
            ("", crate::yaml::Pos::default())
        };
        errors.push(Diagnostic::new(
            file,
            pos,
            "",
            format!("dependency cycle: {}", path.join(" → ")),
        ));
    }
}

/// A cycle of the graph (in edge order), if any: iterative DFS with colours.
fn find_cycle(edges: &[Vec<usize>]) -> Option<Vec<usize>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Colour {
        White,
        Grey,
        Black,
    }
    let mut colour = vec![Colour::White; edges.len()];
    for start in 0..edges.len() {
        if colour[start] != Colour::White {
            continue;
        }
        // (vertex, next edge index)
        let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
        colour[start] = Colour::Grey;
        while let Some(&mut (v, ref mut next)) = stack.last_mut() {
            if let Some(&w) = edges[v].get(*next) {
                *next += 1;
                match colour[w] {
                    Colour::White => {
                        colour[w] = Colour::Grey;
                        stack.push((w, 0));
                    }
                    Colour::Grey => {
                        let from = stack.iter().position(|(x, _)| *x == w).unwrap_or(0);
                        return Some(stack[from..].iter().map(|(x, _)| *x).collect());
                    }
                    Colour::Black => {}
                }
            } else {
                colour[v] = Colour::Black;
                stack.pop();
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cycles_are_found_with_their_path() {
        let edges = vec![vec![1], vec![2], vec![0], vec![]];
        assert_eq!(find_cycle(&edges), Some(vec![0, 1, 2]));
        let dag = vec![vec![1, 2], vec![2], vec![], vec![0]];
        assert_eq!(find_cycle(&dag), None);
        assert_eq!(find_cycle(&[vec![0]]), Some(vec![0]));
    }
}
