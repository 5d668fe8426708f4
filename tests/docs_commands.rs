//! The commands README.md and docs/ show work as written: every fenced block marked
//! ```` ```sh runnable ```` runs with `bash -e` in a fresh directory holding the files of
//! `tests/fixtures/docs/` (the CSV files the import examples name), with this build's
//! `salesgraph` first on the PATH and the embedded SQLite default as the database. Blocks that
//! need Docker, a cluster, a release build or a long-running server are left unmarked.

use std::path::{Path, PathBuf};
use std::process::Command;

/// One runnable block: where it stands and what it says.
struct Block {
    place: String,
    script: String,
}

fn repository() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn runnable_blocks(file: &Path) -> Vec<Block> {
    let text = std::fs::read_to_string(file).expect("a readable document");
    let name = file.strip_prefix(repository()).unwrap_or(file).display().to_string();
    let mut blocks = Vec::new();
    let mut open: Option<(usize, String)> = None;
    for (index, line) in text.lines().enumerate() {
        match &mut open {
            None if line.trim_end() == "```sh runnable" => open = Some((index + 1, String::new())),
            Some((start, script)) if line.trim_end() == "```" => {
                blocks.push(Block { place: format!("{name}:{start}"), script: std::mem::take(script) });
                open = None;
            }
            Some((_, script)) => {
                script.push_str(line);
                script.push('\n');
            }
            None => {}
        }
    }
    blocks
}

fn documents() -> Vec<PathBuf> {
    let mut files = vec![repository().join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(repository().join("docs"))
        .expect("docs/")
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    files
}

#[test]
fn every_runnable_command_in_the_docs_runs() {
    let blocks: Vec<Block> = documents().iter().flat_map(|file| runnable_blocks(file)).collect();
    let places: Vec<&str> = blocks.iter().map(|b| b.place.as_str()).collect();
    for expected in ["README.md", "docs/data.md", "docs/federation.md"] {
        assert!(
            places.iter().any(|p| p.starts_with(expected)),
            "no runnable block in {expected}: {places:?}"
        );
    }
    let binary = PathBuf::from(env!("CARGO_BIN_EXE_salesgraph"));
    let bin_dir = binary.parent().expect("the binary's folder");
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
    for block in &blocks {
        let dir = tempfile::tempdir().expect("a temporary directory");
        for fixture in std::fs::read_dir(repository().join("tests/fixtures/docs")).expect("fixtures") {
            let fixture = fixture.expect("a fixture").path();
            std::fs::copy(&fixture, dir.path().join(fixture.file_name().expect("a name"))).expect("copied");
        }
        let mut command = Command::new("bash");
        command
            .arg("-euo")
            .arg("pipefail")
            .arg("-c")
            .arg(&block.script)
            .current_dir(dir.path())
            .env("PATH", &path);
        for (variable, _) in std::env::vars() {
            if variable == "DATABASE_URL" || variable.starts_with("SALESGRAPH_") {
                command.env_remove(variable);
            }
        }
        let output = command.output().expect("bash runs");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        println!("{}:\n{stdout}", block.place);
        assert!(output.status.success(), "{} failed:\n{}\n{stdout}\n{stderr}", block.place, block.script);
    }
}

#[test]
fn the_block_reader_finds_only_marked_blocks() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = dir.path().join("doc.md");
    std::fs::write(&file, "```sh\nnot this\n```\n\n```sh runnable\necho one\necho two\n```\n")
        .expect("written");
    let blocks = runnable_blocks(&file);
    assert_eq!(blocks.len(), 1);
    assert_eq!(blocks[0].script, "echo one\necho two\n");
}
