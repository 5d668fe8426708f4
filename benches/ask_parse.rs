//! How long parsing a question takes (under 50 µs each), from the corpus's plain questions to
//! the typed ones with typos and lowercase codes, and on average over tests/ask/typed.txt.
//! `cargo bench --bench ask_parse`

use std::hint::black_box;

use chrono::NaiveDate;
use criterion::{Criterion, criterion_group, criterion_main};
use salesgraph::ask::{Lexicon, parse};
use salesgraph::store::catalogue::Catalogue;

fn questions(c: &mut Criterion) {
    let lexicon = Lexicon::new(&Catalogue::builtin());
    let as_of = NaiveDate::from_ymd_opt(2024, 5, 20).expect("date");
    for (name, question) in [
        ("top_models", "Show the top 5 cars sold in Germany last quarter"),
        ("trend", "monthly sales of X5 in the US since 2021"),
        ("compare", "compare 3 Series and 5 Series in China this year"),
        ("typo", "top 3 models in Germny over the past 6 months"),
        ("out_of_scope", "what is the capital of France"),
        ("typed_typos", "top 5 modles in gremany last yr vs the year before"),
        ("typed_lowercase", "x5 vs x6 in de and fr ytd"),
        ("typed_off_topic", "how many people live in germany"),
        (
            "long",
            "how many electric and hybrid SUVs and sedans were sold in Germany, France, Italy, Spain and the United Kingdom between 2021 and 2023 by revenue",
        ),
    ] {
        c.bench_function(&format!("parse/{name}"), |b| {
            b.iter(|| parse(black_box(question), as_of, &lexicon))
        });
    }
    // Every question of the typed corpus once per iteration: the mean per question is the
    // time divided by their number.
    let typed: Vec<&str> = include_str!("../tests/ask/typed.txt")
        .lines()
        .filter_map(|line| line.split_once("||").map(|(question, _)| question.trim()))
        .collect();
    c.bench_function(&format!("parse/typed_corpus_{}_questions", typed.len()), |b| {
        b.iter(|| typed.iter().map(|q| parse(black_box(q), as_of, &lexicon).best.confidence).sum::<f64>())
    });
    c.bench_function("lexicon/build", |b| b.iter(|| Lexicon::new(black_box(&Catalogue::builtin()))));
}

criterion_group!(benches, questions);
criterion_main!(benches);
