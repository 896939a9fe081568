//! The dependency graph. It knows names and edges, nothing about resources'
//! contents: cycles come out as paths, orders are deterministic.

use petgraph::algo::{tarjan_scc, toposort};
use petgraph::graph::{DiGraph, NodeIndex};
use std::collections::BTreeMap;

/// Edges point from a dependency to its dependent.
pub struct Graph {
    graph: DiGraph<String, ()>,
    index: BTreeMap<String, NodeIndex>,
}

impl Graph {
    /// Nodes are added in sorted order, so every order derived from the
    /// graph is stable from run to run.
    pub fn new<'a>(nodes: impl IntoIterator<Item = (&'a str, &'a [String])>) -> Graph {
        let mut nodes: Vec<(&str, &[String])> = nodes.into_iter().collect();
        nodes.sort_by(|a, b| a.0.cmp(b.0));
        let mut graph = DiGraph::new();
        let mut index = BTreeMap::new();
        for (name, _) in &nodes {
            index.insert((*name).to_owned(), graph.add_node((*name).to_owned()));
        }
        for (name, dependencies) in &nodes {
            for dependency in dependencies.iter() {
                if let Some(&from) = index.get(dependency) {
                    graph.add_edge(from, index[*name], ());
                }
            }
        }
        Graph { graph, index }
    }

    /// A cycle as a path that starts and ends on the same name.
    pub fn cycle(&self) -> Option<Vec<String>> {
        let mut components = tarjan_scc(&self.graph);
        components.sort_by_key(|c| c.iter().map(|i| self.graph[*i].clone()).min());
        for component in components {
            let self_loop =
                component.len() == 1 && self.graph.contains_edge(component[0], component[0]);
            if component.len() < 2 && !self_loop {
                continue;
            }
            // Walk inside the component from its smallest name until we return.
            let members: std::collections::BTreeSet<NodeIndex> =
                component.iter().copied().collect();
            let start = *component
                .iter()
                .min_by_key(|i| self.graph[**i].clone())
                .unwrap();
            let mut path = vec![start];
            let mut current = start;
            loop {
                let mut next: Vec<NodeIndex> = self
                    .graph
                    .neighbors(current)
                    .filter(|n| members.contains(n))
                    .collect();
                next.sort_by_key(|i| self.graph[*i].clone());
                let step = next
                    .iter()
                    .copied()
                    .find(|n| *n == start)
                    .or_else(|| next.iter().copied().find(|n| !path.contains(n)))
                    .unwrap_or(start);
                path.push(step);
                if step == start {
                    break;
                }
                current = step;
            }
            return Some(path.into_iter().map(|i| self.graph[i].clone()).collect());
        }
        None
    }

    /// Dependencies before dependents; ties broken by name.
    pub fn order(&self) -> Vec<String> {
        toposort(&self.graph, None)
            .map(|order| order.into_iter().map(|i| self.graph[i].clone()).collect())
            .unwrap_or_else(|_| self.index.keys().cloned().collect())
    }

    /// DOT, for `cairn graph`.
    pub fn dot(&self, label: impl Fn(&str) -> String) -> String {
        let mut out = String::from("digraph cairn {\n  rankdir = \"RL\";\n  node [shape = box];\n");
        // An instance's address holds quotes (`subnet.private["a"]`).
        let label = |name: &str| label(name).replace('"', "\\\"");
        let mut labels: Vec<String> = self.index.keys().map(|name| label(name)).collect();
        labels.sort();
        for node in labels {
            out.push_str(&format!("  \"{node}\";\n"));
        }
        let mut edges: Vec<(String, String)> = self
            .graph
            .edge_indices()
            .filter_map(|e| self.graph.edge_endpoints(e))
            .map(|(from, to)| (label(&self.graph[to]), label(&self.graph[from])))
            .collect();
        edges.sort();
        for (dependent, dependency) in edges {
            out.push_str(&format!("  \"{dependent}\" -> \"{dependency}\";\n"));
        }
        out.push_str("}\n");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(edges: &[(&str, &[&str])]) -> Graph {
        let owned: Vec<(String, Vec<String>)> = edges
            .iter()
            .map(|(n, d)| (n.to_string(), d.iter().map(|s| s.to_string()).collect()))
            .collect();
        Graph::new(owned.iter().map(|(n, d)| (n.as_str(), d.as_slice())))
    }

    #[test]
    fn cycle_is_reported_as_a_path() {
        let g = graph(&[("a", &["c"]), ("b", &["a"]), ("c", &["b"]), ("d", &[])]);
        assert_eq!(g.cycle().unwrap(), vec!["a", "b", "c", "a"]);
    }

    #[test]
    fn order_puts_dependencies_first() {
        let g = graph(&[
            ("role", &["table"]),
            ("table", &["key"]),
            ("key", &[]),
            ("alarm", &[]),
        ]);
        let order = g.order();
        let at = |n: &str| order.iter().position(|x| x == n).unwrap();
        assert!(at("key") < at("table") && at("table") < at("role"));
        assert!(g.cycle().is_none());
    }
}
