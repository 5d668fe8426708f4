//! The question corpus (tests/ask/corpus.txt): every question parsed at its `asOf` and compared
//! with the interpretation written beside it. Prints the accuracy; at least 95% must be exactly
//! right, and every example of docs/ask.md must be.

#[path = "common/ask_spec.rs"]
mod ask_spec;

use ask_spec::expected;
use chrono::NaiveDate;
use salesgraph::ask::{Intent, Lexicon, parse};
use salesgraph::store::catalogue::Catalogue;

fn catalogue() -> Catalogue {
    Catalogue::builtin()
}

#[test]
fn the_corpus_is_understood() {
    let lexicon = Lexicon::new(&catalogue());
    let text = ask_spec::CORPUS;
    let mut as_of = NaiveDate::from_ymd_opt(2024, 5, 20).expect("date");
    let (mut total, mut right) = (0, 0);
    let mut wrong = Vec::new();
    let mut in_must_block = false;
    for line in text.lines().map(str::trim) {
        if let Some(date) = line.strip_prefix("@asOf ") {
            as_of = date.parse().expect("asOf date");
            continue;
        }
        if line.starts_with('#') {
            // The documented examples and the comparisons must all be read right.
            in_must_block =
                line.starts_with("# examples of docs/ask.md") || line.starts_with("# comparisons");
            continue;
        }
        let Some((question, spec)) = line.split_once("||") else { continue };
        let (question, want) = (question.trim(), expected(spec));
        let parsed = parse(question, as_of, &lexicon);
        total += 1;
        let got = &parsed.best.interpretation;
        let confidence = parsed.best.confidence;
        let sure_enough = if want.intent == Intent::Unknown { confidence < 0.5 } else { confidence >= 0.5 };
        if *got == want && sure_enough {
            right += 1;
        } else {
            wrong.push(format!("{question:?} (asOf {as_of})\n   want {want:?}\n   got  {got:?} at {confidence}\n   notes {:?}", parsed.notes));
            assert!(
                !in_must_block,
                "a documented example is misread: {}",
                wrong.last().expect("just pushed")
            );
        }
        if in_must_block && want.intent != Intent::Unknown {
            assert!(
                confidence >= 0.8,
                "{question:?}: exact matches should score 0.8 or more, got {confidence}"
            );
        }
    }
    let accuracy = right as f64 / total as f64;
    println!("ask corpus: {right} of {total} exactly right ({:.1}%)", accuracy * 100.0);
    for miss in &wrong {
        println!(" - {miss}");
    }
    assert!(total >= 150, "the corpus has {total} questions: at least 150");
    assert!(accuracy >= 0.95, "accuracy {:.1}% is under 95%", accuracy * 100.0);
}
