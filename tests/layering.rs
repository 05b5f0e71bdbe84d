//! The crate's modules depend on each other in one direction
//! (ARCHITECTURE.md, "Layers"): each top-level module of `src/` names
//! (`crate::x`, `super::x` from a submodule) only modules of lower layers.
//! Comments and `#[cfg(test)]` modules are left out: doc links and unit
//! tests may look anywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

/// The layers, lowest first; a module may use those of lower layers only.
const LAYERS: &[&[&str]] = &[
    &["packet", "addr", "wait"],
    &["queue"],
    &["codec"],
    &["proto"],
    &["neopy"],
    &["error"],
    &["stream"],
    &["link"],
    &["conn"],
    &["light", "conversation"],
    &["handshake"],
    &["tls"],
    &["dial", "listener"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// The code of a source file without comments and unit-test modules.
fn code_of(text: &str) -> String {
    let mut code = String::new();
    for line in text.lines() {
        let t = line.trim_start();
        if t.starts_with("#[cfg(test)]") || t.starts_with("#[cfg(all(test") {
            break; // unit tests come last in every file
        }
        if !t.starts_with("//") {
            code.push_str(line);
            code.push('\n');
        }
    }
    code
}

/// The top-level modules named by `crate::` paths in `code` (plain paths
/// and the names in `crate::{a, b::c}` groups).
fn named_modules(code: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = &group[..group.find('}').unwrap_or(group.len())];
            for item in group.split(',') {
                names.insert(ident(item.trim()));
            }
        } else {
            names.insert(ident(rest));
        }
    }
    names.retain(|n| !n.is_empty());
    names
}

fn ident(s: &str) -> String {
    s.chars()
        .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
        .collect()
}

/// Each top-level module of `src/` with the modules it names.
fn dependencies() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut deps: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let rel = path.strip_prefix(&src).unwrap();
            let top = rel.iter().next().unwrap().to_str().unwrap();
            let module = top.trim_end_matches(".rs").to_string();
            if module == "lib" || path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let code = code_of(&fs::read_to_string(&path).unwrap());
            let named = deps.entry(module.clone()).or_default();
            named.extend(named_modules(&code).into_iter().filter(|n| *n != module));
        }
    }
    deps
}

#[test]
fn every_module_has_a_layer() {
    for module in dependencies().keys() {
        assert!(layer_of(module).is_some(), "{module} has no layer");
    }
}

#[test]
fn dependencies_point_down() {
    let mut wrong = Vec::new();
    for (module, named) in dependencies() {
        let Some(mine) = layer_of(&module) else {
            continue;
        };
        for other in named {
            match layer_of(&other) {
                Some(theirs) if theirs < mine => {}
                _ => wrong.push(format!("{module} -> {other}")),
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "dependencies that do not point down: {wrong:?}"
    );
}

/// The checker itself sees a dependency where there is one.
#[test]
fn named_modules_reads_paths_and_groups() {
    let code = "use crate::link::{NodeLink, Shared};\nuse crate::{codec, proto::Ping};\n";
    let names: Vec<String> = named_modules(code).into_iter().collect();
    assert_eq!(names, ["codec", "link", "proto"]);
    assert!(named_modules(&code_of("// crate::tls\n")).is_empty());
}
