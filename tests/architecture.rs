//! The modules of `src/` use one another without a cycle: a module may use what its ancestors
//! define (a child uses its parent's shared types), and between any other two modules the uses
//! run one way. Read from the source's `crate::`, `super::` and `self::` paths, outside tests.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

type Module = Vec<String>;

/// Every module file under `src/`, by module path (`lib.rs` is the crate root, `[]`).
fn modules(root: &Path) -> BTreeMap<Module, String> {
    fn walk(dir: &Path, root: &Path, out: &mut BTreeMap<Module, String>) {
        for entry in std::fs::read_dir(dir).expect("read src") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                walk(&path, root, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let relative = path.strip_prefix(root).expect("under src").with_extension("");
                let mut module: Module =
                    relative.iter().map(|part| part.to_string_lossy().into_owned()).collect();
                if module.last().is_some_and(|last| last == "mod") {
                    module.pop();
                }
                if module == ["main"] {
                    continue;
                }
                if module == ["lib"] {
                    module.clear();
                }
                out.insert(module, std::fs::read_to_string(&path).expect("read module"));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// The source without comments, string and character literals, and its test module.
fn code_of(source: &str) -> Vec<char> {
    let source = source.find("#[cfg(test)]").map_or(source, |at| &source[..at]);
    let chars: Vec<char> = source.chars().collect();
    let mut out = Vec::with_capacity(chars.len());
    let mut i = 0;
    while i < chars.len() {
        match (chars[i], chars.get(i + 1)) {
            ('/', Some('/')) => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            ('/', Some('*')) => {
                i += 2;
                while i + 1 < chars.len() && !(chars[i] == '*' && chars[i + 1] == '/') {
                    i += 1;
                }
                i += 2;
            }
            ('r', Some('#')) if chars.get(i + 2) == Some(&'"') => {
                i += 3;
                while i + 1 < chars.len() && !(chars[i] == '"' && chars[i + 1] == '#') {
                    i += 1;
                }
                i += 2;
                out.push(' ');
            }
            ('\'', Some('\\')) => {
                i += 2;
                while i < chars.len() && chars[i] != '\'' {
                    i += 1;
                }
                i += 1;
            }
            ('\'', Some(_)) if chars.get(i + 2) == Some(&'\'') => i += 3,
            ('"', _) => {
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    i += if chars[i] == '\\' { 2 } else { 1 };
                }
                i += 1;
                out.push(' ');
            }
            _ => {
                out.push(chars[i]);
                i += 1;
            }
        }
    }
    out
}

fn ident_at(code: &[char], mut i: usize) -> (String, usize) {
    let start = i;
    while i < code.len() && (code[i].is_alphanumeric() || code[i] == '_') {
        i += 1;
    }
    (code[start..i].iter().collect(), i)
}

fn skip_space(code: &[char], mut i: usize) -> usize {
    while i < code.len() && code[i].is_whitespace() {
        i += 1;
    }
    i
}

/// Reads a path tree at `i` (after a leading `::`-joined prefix): `a::b`, `a::{b, c::d}`.
fn read_tree(code: &[char], mut i: usize, prefix: &[String], out: &mut Vec<Module>) -> usize {
    let mut path = prefix.to_vec();
    loop {
        i = skip_space(code, i);
        if code.get(i) == Some(&'{') {
            i += 1;
            loop {
                i = skip_space(code, i);
                match code.get(i) {
                    Some('}') => return i + 1,
                    Some(',') => i += 1,
                    None => return i,
                    _ => i = read_tree(code, i, &path, out),
                }
            }
        }
        let (ident, next) = ident_at(code, i);
        if ident.is_empty() {
            out.push(path);
            return i.max(next);
        }
        if ident != "self" {
            path.push(ident);
        }
        i = skip_space(code, next);
        if code.get(i) == Some(&':') && code.get(i + 1) == Some(&':') {
            i += 2;
        } else {
            out.push(path);
            return i;
        }
    }
}

/// The modules `module` uses, by the longest module path each reference names.
fn uses(module: &Module, code: &[char], known: &BTreeMap<Module, String>) -> BTreeSet<Module> {
    let mut found = BTreeSet::new();
    let mut i = 0;
    while i < code.len() {
        let boundary = i == 0 || !(code[i - 1].is_alphanumeric() || code[i - 1] == '_' || code[i - 1] == ':');
        let (ident, next) = ident_at(code, i);
        if ident.is_empty() {
            i += 1;
            continue;
        }
        let base: Option<Module> = match ident.as_str() {
            "crate" => Some(Vec::new()),
            "super" => Some(module[..module.len().saturating_sub(1)].to_vec()),
            "self" => Some(module.clone()),
            _ => None,
        };
        if let (true, Some(mut base), Some(':'), Some(':')) =
            (boundary, base, code.get(next), code.get(next + 1))
        {
            let mut j = next + 2;
            // `super::super::x`
            loop {
                let (more, after) = ident_at(code, j);
                if more == "super" && code.get(after) == Some(&':') {
                    base.pop();
                    j = after + 2;
                } else {
                    break;
                }
            }
            let mut paths = Vec::new();
            i = read_tree(code, j, &base, &mut paths);
            for mut path in paths {
                while !path.is_empty() && !known.contains_key(&path) {
                    path.pop();
                }
                let ancestor = path.len() < module.len() && module.starts_with(&path);
                if &path != module && !ancestor {
                    found.insert(path);
                }
            }
        } else {
            i = next;
        }
    }
    found
}

fn name(module: &Module) -> String {
    if module.is_empty() { "crate".to_string() } else { module.join("::") }
}

#[test]
fn no_module_of_src_takes_part_in_an_import_cycle() {
    let known = modules(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    assert!(known.len() > 50, "only {} modules found", known.len());
    let graph: BTreeMap<Module, BTreeSet<Module>> = known
        .iter()
        .map(|(module, source)| (module.clone(), uses(module, &code_of(source), &known)))
        .collect();
    assert!(
        graph[&vec!["planning".to_string(), "forecast".to_string()]].contains(&vec!["data".to_string()]),
        "the reader misses uses: {:?}",
        graph[&vec!["planning".to_string(), "forecast".to_string()]]
    );
    // The path from `from` to `to` along uses, if any.
    let path = |from: &Module, to: &Module| -> Option<Vec<Module>> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![vec![from.clone()]];
        while let Some(trail) = stack.pop() {
            let last = trail.last().expect("trail").clone();
            if &last == to && trail.len() > 1 {
                return Some(trail);
            }
            for next in graph.get(&last).into_iter().flatten() {
                if seen.insert(next.clone()) {
                    let mut longer = trail.clone();
                    longer.push(next.clone());
                    stack.push(longer);
                }
            }
        }
        None
    };
    let cycles: Vec<String> = graph
        .keys()
        .filter_map(|module| path(module, module))
        .map(|cycle| cycle.iter().map(name).collect::<Vec<_>>().join(" -> "))
        .collect();
    assert!(cycles.is_empty(), "import cycles in src/:\n{}", cycles.join("\n"));
}

#[test]
fn the_reader_sees_grouped_nested_and_relative_paths() {
    let known: BTreeMap<Module, String> =
        [vec![], vec!["a".into()], vec!["a".into(), "b".into()], vec!["c".into()]]
            .into_iter()
            .map(|m| (m, String::new()))
            .collect();
    let code = code_of(
        "use crate::{a::b::Thing, c};\n// crate::x::y\nfn f() { let s = \"crate::c\"; super::super::c::g(); }\n#[cfg(test)] mod tests { use crate::a; }",
    );
    let found = uses(&vec!["a".into(), "b".into()], &code, &known);
    assert_eq!(found, BTreeSet::from([vec!["c".to_string()]]), "a::b uses c; its ancestor a does not count");
}
