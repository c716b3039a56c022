//! The runtime's shape (docs/architecture.md): a few folders by concern at
//! the top of `runtime/src`, each saying what it is for, and no import cycle
//! among them, so that each can be read, and replaced, from the bottom up.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Most entries `runtime/src` may hold at its top level.
const MAX_TOP_LEVEL: usize = 12;

fn source_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The top-level modules of the library: every entry but `lib.rs` and the
/// executables, by module name.
fn top_level_modules() -> BTreeMap<String, PathBuf> {
    std::fs::read_dir(source_root())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter_map(|path| {
            let name = path.file_name()?.to_str()?.to_owned();
            let module = name.strip_suffix(".rs").unwrap_or(&name).to_owned();
            (module != "lib" && module != "bin").then_some((module, path))
        })
        .collect()
}

/// Every `.rs` file at or under `path`.
fn rust_files(path: &Path) -> Vec<PathBuf> {
    if path.is_file() {
        return vec![path.to_owned()];
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path).unwrap() {
        files.extend(rust_files(&entry.unwrap().path()));
    }
    files.retain(|file| file.extension().is_some_and(|ext| ext == "rs"));
    files
}

/// The code of a file without its comments (doc comments name modules
/// freely).
fn without_comments(text: &str) -> String {
    text.lines()
        .map(|line| line.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The first path segment after each `crate::` in `code`, and every first
/// segment of a `crate::{a::b, c}` group.
fn crate_references(code: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let identifier = |text: &str| -> String {
        text.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // The top-level items of the group: what sits at depth 0 after
            // the opening brace, up to its closing one.
            let mut depth = 0;
            let mut item_start = true;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => item_start = true,
                    c if c.is_whitespace() => {}
                    _ if item_start && depth == 0 => {
                        found.insert(identifier(&group[i..]));
                        item_start = false;
                    }
                    _ => {}
                }
            }
        } else {
            found.insert(identifier(rest));
        }
    }
    found
}

/// Which top-level modules each one uses.
fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let modules = top_level_modules();
    modules
        .iter()
        .map(|(module, path)| {
            let used = rust_files(path)
                .iter()
                .flat_map(|file| {
                    crate_references(&without_comments(&std::fs::read_to_string(file).unwrap()))
                })
                .filter(|used| used != module && modules.contains_key(used))
                .collect();
            (module.clone(), used)
        })
        .collect()
}

/// One cycle of `graph`, as the modules on it in order, if it has one.
fn a_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done,
    }
    fn visit(
        module: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        marks: &mut BTreeMap<String, Mark>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match marks.get(module) {
            Some(Mark::Done) => return None,
            Some(Mark::Open) => {
                let start = path.iter().position(|m| m == module).unwrap();
                let mut cycle = path[start..].to_vec();
                cycle.push(module.to_owned());
                return Some(cycle);
            }
            None => {}
        }
        marks.insert(module.to_owned(), Mark::Open);
        path.push(module.to_owned());
        for used in graph.get(module).into_iter().flatten() {
            if let Some(cycle) = visit(used, graph, marks, path) {
                return Some(cycle);
            }
        }
        path.pop();
        marks.insert(module.to_owned(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    graph
        .keys()
        .find_map(|module| visit(module, graph, &mut marks, &mut Vec::new()))
}

#[test]
fn the_runtime_has_no_import_cycle_among_its_top_level_modules() {
    let graph = module_graph();
    if let Some(cycle) = a_cycle(&graph) {
        panic!(
            "import cycle among runtime/src's top-level modules: {}",
            cycle.join(" -> ")
        );
    }
}

#[test]
fn the_runtime_keeps_a_few_folders_each_saying_what_it_is_for() {
    let entries: Vec<String> = std::fs::read_dir(source_root())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        entries.len() <= MAX_TOP_LEVEL,
        "runtime/src has {} top-level entries (at most {MAX_TOP_LEVEL}): {entries:?}",
        entries.len()
    );
    for (module, path) in top_level_modules() {
        if path.is_dir() {
            let text = std::fs::read_to_string(path.join("mod.rs"))
                .unwrap_or_else(|e| panic!("{module}/mod.rs: {e}"));
            assert!(
                text.starts_with("//! "),
                "{module}/mod.rs does not start by saying what the folder is for"
            );
        }
    }
}

#[test]
fn the_cycle_check_reads_grouped_imports_and_finds_a_planted_cycle() {
    let code = "use crate::{a::b, c::{d, e}};\nuse crate::f::g;\nlet x = crate::h();";
    let found: Vec<String> = crate_references(code).into_iter().collect();
    assert_eq!(found, ["a", "c", "f", "h"]);
    let graph: BTreeMap<String, BTreeSet<String>> = [
        ("a", &["b"][..]),
        ("b", &["c"][..]),
        ("c", &["a"][..]),
        ("d", &[][..]),
    ]
    .into_iter()
    .map(|(m, used)| (m.to_owned(), used.iter().map(|u| u.to_string()).collect()))
    .collect();
    assert_eq!(a_cycle(&graph).unwrap(), ["a", "b", "c", "a"]);
    let mut acyclic = graph;
    acyclic.get_mut("c").unwrap().clear();
    assert_eq!(a_cycle(&acyclic), None);
}
