//! Questions as people type them (tests/ask/typed.txt): lowercase, abbreviations, typos, new
//! phrasings of every intent, and questions about something else. The file was written before
//! the parser was changed for it. Prints the accuracy per intent and per kind of question; every
//! out-of-scope question must score under 0.3, and every question must be read exactly right.

#[path = "common/ask_spec.rs"]
mod ask_spec;

use std::collections::BTreeMap;

use salesgraph::ask::{Intent, Lexicon, parse};
use salesgraph::store::catalogue::Catalogue;

/// Every question of the file must be read exactly right.
const ACCURACY_FLOOR: f64 = 1.0;

/// Out-of-scope questions must be refused with confidence under this.
const OUT_OF_SCOPE_CEILING: f64 = 0.3;

#[derive(Default)]
struct Score {
    right: usize,
    total: usize,
}

impl Score {
    fn add(&mut self, right: bool) {
        self.total += 1;
        self.right += usize::from(right);
    }

    fn line(&self, name: &str) -> String {
        format!(
            "{name:<58} {:>3} of {:>3} ({:.0}%)",
            self.right,
            self.total,
            100.0 * self.right as f64 / self.total as f64
        )
    }
}

#[test]
fn typed_questions_are_understood() {
    let lexicon = Lexicon::new(&Catalogue::builtin());
    let questions = ask_spec::questions(ask_spec::TYPED);
    let (mut all, mut by_intent, mut by_kind) = (Score::default(), BTreeMap::new(), BTreeMap::new());
    let mut misses = Vec::new();
    let mut confident_out_of_scope = Vec::new();
    for (as_of, section, question, spec) in &questions {
        let parsed = parse(question, *as_of, &lexicon);
        let (got, confidence) = (&parsed.best.interpretation, parsed.best.confidence);
        let intent_name = spec.split(';').next().unwrap_or_default().trim().to_string();
        let right = match ask_spec::try_expected(spec) {
            Ok(want) => {
                let sure_enough = if want.intent == Intent::Unknown {
                    confidence < OUT_OF_SCOPE_CEILING
                } else {
                    confidence >= 0.5
                };
                if want.intent == Intent::Unknown && confidence >= OUT_OF_SCOPE_CEILING {
                    confident_out_of_scope
                        .push(format!("{question:?} read as {} at {confidence:.2}", got.intent.name()));
                }
                *got == want && sure_enough
            }
            Err(_) => false,
        };
        if !right {
            misses.push(format!("{question:?} (asOf {as_of})\n   want {spec}\n   got  {got:?} at {confidence:.2}\n   notes {:?}", parsed.notes));
        }
        all.add(right);
        by_intent.entry(intent_name).or_insert_with(Score::default).add(right);
        by_kind.entry(section.clone()).or_insert_with(Score::default).add(right);
    }
    println!("{}", all.line("typed questions"));
    println!("by intent:");
    for (name, score) in &by_intent {
        println!("  {}", score.line(name));
    }
    println!("by kind:");
    for (name, score) in &by_kind {
        println!("  {}", score.line(name));
    }
    for miss in &misses {
        println!(" - {miss}");
    }
    assert!(questions.len() >= 300, "the typed corpus has {} questions: at least 300", questions.len());
    let out_of_scope = by_intent.get("UNKNOWN").map_or(0, |s| s.total);
    assert!(out_of_scope >= 40, "the typed corpus has {out_of_scope} out-of-scope questions: at least 40");
    assert!(
        confident_out_of_scope.is_empty(),
        "out-of-scope questions answered with confidence {OUT_OF_SCOPE_CEILING} or more:\n{}",
        confident_out_of_scope.join("\n")
    );
    let accuracy = all.right as f64 / all.total as f64;
    assert!(
        accuracy >= ACCURACY_FLOOR,
        "accuracy {:.1}% fell under the floor {:.1}%",
        accuracy * 100.0,
        ACCURACY_FLOOR * 100.0
    );
}
