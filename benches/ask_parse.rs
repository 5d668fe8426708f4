//! How long parsing a question takes (issue: under 100 µs for a typical one).
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
        (
            "long",
            "how many electric and hybrid SUVs and sedans were sold in Germany, France, Italy, Spain and the United Kingdom between 2021 and 2023 by revenue",
        ),
    ] {
        c.bench_function(&format!("parse/{name}"), |b| {
            b.iter(|| parse(black_box(question), as_of, &lexicon))
        });
    }
    c.bench_function("lexicon/build", |b| b.iter(|| Lexicon::new(black_box(&Catalogue::builtin()))));
}

criterion_group!(benches, questions);
criterion_main!(benches);
