//! Thousands of generated questions: templates × catalogue models and countries × periods ×
//! the forms people write names in (lowercase, codes, "BMW X5", plurals, one letter wrong), each
//! with the reading it must have. Prints the accuracy per template; at least 98% must be
//! read exactly right, and no question may lose a model or country it names (a property over
//! every generated question, whatever else the parser makes of it).

#[path = "common/ask_spec.rs"]
mod ask_spec;

use std::collections::BTreeMap;

use chrono::NaiveDate;
use salesgraph::ask::{Interpretation, Lexicon, parse};
use salesgraph::store::catalogue::Catalogue;

/// The share of generated questions that must be read exactly right.
const ACCURACY_FLOOR: f64 = 0.98;
const QUESTIONS: usize = 4000;

/// A small deterministic generator (xorshift), so that every run asks the same questions.
struct Dice(u64);

impl Dice {
    fn roll(&mut self, sides: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % sides as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.roll(items.len())]
    }
}

/// A period as typed and as the spec notation writes it (asOf 2024-05-20).
const PERIODS: &[(&str, &str)] = &[
    ("last year", "period=2023-01-01..2023-12-31"),
    ("this year", "period=2024-01-01..2024-05-20"),
    ("in 2022", "period=2022-01-01..2022-12-31"),
    ("in Q3 2023", "period=2023-07-01..2023-09-30"),
    ("last quarter", "period=2024-01-01..2024-03-31"),
    ("since 2021", "period=2021-01-01..2024-05-20"),
    ("in March 2023", "period=2023-03-01..2023-03-31"),
    ("over the last 6 months", "period=2023-11-01..2024-04-30"),
    ("last month", "period=2024-04-01..2024-04-30"),
    ("last yr", "period=2023-01-01..2023-12-31"),
    ("in the past 30 days", "period=2024-04-20..2024-05-19"),
    ("", ""),
];

/// Two-letter codes that are also English words, which lowercase cannot make a country alone.
const CODES_THAT_ARE_WORDS: &[&str] = &["IN", "IT", "NO", "AT", "BE", "US"];

/// Two neighbouring letters swapped inside a word of six letters or more ("modles").
fn slipped(word: &str, dice: &mut Dice) -> String {
    let mut chars: Vec<char> = word.chars().collect();
    if chars.len() < 6 {
        return word.to_string();
    }
    let at = 2 + dice.roll(chars.len() - 3);
    chars.swap(at, at - 1);
    chars.into_iter().collect()
}

/// One letter of a name dropped or two neighbours swapped, away from its first letter (the
/// way names are mistyped), for names long enough that one slip still leaves them clear.
fn mistyped(name: &str, dice: &mut Dice) -> Option<String> {
    let chars: Vec<char> = name.chars().collect();
    if chars.len() < 6 || chars.iter().any(|c| !c.is_ascii_alphabetic()) {
        return None;
    }
    let at = 1 + dice.roll(chars.len() - 2);
    let mut typed = chars.clone();
    if dice.roll(2) == 0 {
        typed.remove(at);
    } else {
        typed.swap(at, at + 1);
    }
    (typed != chars).then(|| typed.into_iter().collect())
}

/// A country as someone might type it: its name, in lowercase, its code, or mistyped.
fn country_form(country: &entity::country::Model, dice: &mut Dice) -> (String, &'static str) {
    match dice.roll(5) {
        0 => (country.name.clone(), "name"),
        1 => (country.name.to_lowercase(), "lowercase name"),
        2 => (country.code.clone(), "code"),
        3 if !CODES_THAT_ARE_WORDS.contains(&country.code.as_str()) => {
            (country.code.to_lowercase(), "lowercase code")
        }
        _ => match mistyped(&country.name, dice) {
            Some(typo) => (typo.to_lowercase(), "mistyped name"),
            None => (country.name.clone(), "name"),
        },
    }
}

/// A model as someone might type it: canonical, lowercase, with the make, hyphenated, in the
/// plural, "series 3".
fn model_form(model: &str, dice: &mut Dice) -> (String, &'static str) {
    match dice.roll(6) {
        0 => (model.to_string(), "model"),
        1 => (model.to_lowercase(), "lowercase model"),
        2 => (format!("BMW {model}"), "make and model"),
        3 if !model.contains(' ') => (format!("{}s", model.to_lowercase()), "plural model"),
        4 => match model.strip_suffix(" Series") {
            Some(number) => (format!("series {number}"), "series N"),
            None => (model.to_string(), "model"),
        },
        _ => match model.split_at_checked(1) {
            Some((letter, number)) if !model.contains(' ') && number.chars().all(|c| c.is_ascii_digit()) => {
                (format!("{}-{number}", letter.to_lowercase()), "hyphenated model")
            }
            _ => (model.to_string(), "model"),
        },
    }
}

struct Generated {
    template: &'static str,
    question: String,
    spec: String,
    model: Option<String>,
    countries: Vec<String>,
}

fn generate(catalogue: &Catalogue, dice: &mut Dice) -> Generated {
    let models: Vec<&str> = catalogue.models.iter().map(|m| m.name.as_str()).collect();
    let model = *dice.pick(&models);
    let other = *dice.pick(&models.iter().copied().filter(|m| *m != model).collect::<Vec<_>>());
    let country = dice.pick(&catalogue.countries);
    let (place, _) = country_form(country, dice);
    let (named, _) = model_form(model, dice);
    let (other_named, _) = model_form(other, dice);
    let (period_text, period_spec) = *dice.pick(PERIODS);
    let n = 2 + dice.roll(9);
    let code = country.code.clone();
    let join =
        |parts: &[&str]| parts.iter().filter(|p| !p.is_empty()).copied().collect::<Vec<_>>().join("; ");
    // One question in five has a keyword mistyped.
    let mistype = dice.roll(5) == 0;
    let mut key = |word: &str| if mistype { slipped(word, dice) } else { word.to_string() };
    let (models_word, marketing, forecast, compare, monthly, revenue, countries, average) = (
        key("models"),
        key("marketing"),
        key("forecast"),
        key("compare"),
        key("monthly"),
        key("revenue"),
        key("countries"),
        key("average"),
    );
    let fuels = [("diesel", "DIESEL"), ("electric", "ELECTRIC"), ("hybrid", "HYBRID"), ("petrol", "PETROL")];
    let (fuel_word, fuel) = *dice.pick(&fuels);
    let (template, question, spec, named_model) = match dice.roll(16) {
        0 => (
            "top N models in COUNTRY PERIOD",
            format!("top {n} {models_word} in {place} {period_text}"),
            join(&["TOP_MODELS", &format!("countries={code}"), period_spec, &format!("limit={n}")]),
            None,
        ),
        1 => (
            "how many MODEL were sold in COUNTRY PERIOD",
            format!("how many {named} were sold in {place} {period_text}"),
            join(&["TOTAL", &format!("models={model}"), &format!("countries={code}"), period_spec]),
            Some(model),
        ),
        2 => (
            "MODEL sales in COUNTRY PERIOD",
            format!("{named} sales in {place} {period_text}"),
            join(&["TOTAL", &format!("models={model}"), &format!("countries={code}"), period_spec]),
            Some(model),
        ),
        3 => (
            "compare MODEL and MODEL in COUNTRY PERIOD",
            format!("{compare} {named} and {other_named} in {place} {period_text}"),
            join(&["COMPARE", &format!("models={model}+{other}"), &format!("countries={code}"), period_spec]),
            Some(model),
        ),
        4 => (
            "monthly sales of the MODEL in COUNTRY PERIOD",
            format!("{monthly} sales of the {named} in {place} {period_text}"),
            join(&[
                "TREND",
                &format!("models={model}"),
                &format!("countries={code}"),
                period_spec,
                "granularity=MONTH",
            ]),
            Some(model),
        ),
        5 => (
            "forecast MODEL sales in COUNTRY next quarter",
            format!("{forecast} {named} sales in {place} next quarter"),
            join(&[
                "FORECAST",
                &format!("models={model}"),
                &format!("countries={code}"),
                "period=2024-07-01..2024-09-30",
                "limit=5",
            ]),
            Some(model),
        ),
        6 => (
            "which models need marketing in COUNTRY",
            format!("which {models_word} need {marketing} in {place}"),
            join(&["MARKETING", &format!("countries={code}")]),
            None,
        ),
        7 => (
            "what should we stock in COUNTRY",
            format!("what should we stock in {place}"),
            join(&["INVENTORY", &format!("countries={code}"), "period=2024-07-01..2024-09-30"]),
            None,
        ),
        8 => (
            "when do MODEL sales peak in COUNTRY",
            format!("when do {named} sales peak in {place}"),
            join(&["SEASONALITY", &format!("models={model}"), &format!("countries={code}")]),
            Some(model),
        ),
        9 => (
            "top N countries for the MODEL PERIOD",
            format!("top {n} {countries} for the {named} {period_text}"),
            join(&["TOP_COUNTRIES", &format!("models={model}"), period_spec, &format!("limit={n}")]),
            Some(model),
        ),
        10 => (
            "revenue of the MODEL in COUNTRY PERIOD",
            format!("{revenue} of the {named} in {place} {period_text}"),
            join(&[
                "TOTAL",
                &format!("models={model}"),
                &format!("countries={code}"),
                period_spec,
                "metric=REVENUE",
            ]),
            Some(model),
        ),
        11 => (
            "share of FUEL in COUNTRY PERIOD",
            format!("share of {fuel_word} in {place} {period_text}"),
            join(&["SHARE", &format!("countries={code}"), &format!("fuel={fuel}"), period_spec]),
            None,
        ),
        12 => (
            "average price of the MODEL in COUNTRY PERIOD",
            format!("{average} price of the {named} in {place} {period_text}"),
            join(&["AVERAGE_PRICE", &format!("models={model}"), &format!("countries={code}"), period_spec]),
            Some(model),
        ),
        13 => (
            "MODEL sales in COUNTRY vs last year",
            format!("{named} sales in {place} vs last year"),
            join(&[
                "TOTAL",
                &format!("models={model}"),
                &format!("countries={code}"),
                "period=2024-01-01..2024-05-20",
                "compare=PREVIOUS_YEAR",
            ]),
            Some(model),
        ),
        14 => (
            "fastest growing models in COUNTRY",
            format!("fastest growing {models_word} in {place}"),
            join(&[
                "GROWTH",
                &format!("countries={code}"),
                "period=2024-01-01..2024-05-20",
                "limit=5",
                "compare=PREVIOUS_YEAR",
            ]),
            None,
        ),
        _ => (
            "MODEL COUNTRY PERIOD (no intent word)",
            format!("{named} {place} {period_text}"),
            join(&["TOTAL", &format!("models={model}"), &format!("countries={code}"), period_spec]),
            Some(model),
        ),
    };
    let countries = if template.contains("COUNTRY") && !template.starts_with("top N countries") {
        vec![code]
    } else {
        Vec::new()
    };
    Generated {
        template,
        question: question.trim().to_string(),
        spec,
        model: named_model.map(str::to_string),
        countries,
    }
}

fn keeps(reading: &Interpretation, generated: &Generated) -> bool {
    generated.model.iter().all(|m| reading.models.contains(m))
        && generated.countries.iter().all(|c| reading.countries.contains(c))
}

#[test]
fn generated_questions_are_understood_and_keep_their_names() {
    let catalogue = Catalogue::builtin();
    let lexicon = Lexicon::new(&catalogue);
    let as_of = NaiveDate::from_ymd_opt(2024, 5, 20).expect("date");
    let mut dice = Dice(0x5eed_cafe_f00d_u64);
    let mut by_template: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let (mut right, mut lost, mut misses) = (0, Vec::new(), Vec::new());
    for _ in 0..QUESTIONS {
        let generated = generate(&catalogue, &mut dice);
        let parsed = parse(&generated.question, as_of, &lexicon);
        let best = &parsed.best;
        let is_right = ask_spec::try_expected(&generated.spec)
            .is_ok_and(|want| best.interpretation == want && best.confidence >= 0.5);
        let entry = by_template.entry(generated.template).or_default();
        entry.1 += 1;
        if is_right {
            right += 1;
            entry.0 += 1;
        } else if misses.len() < 60 {
            misses.push(format!(
                "{:?}\n   want {}\n   got  {:?} at {:.2}",
                generated.question, generated.spec, best.interpretation, best.confidence
            ));
        }
        if !keeps(&best.interpretation, &generated) {
            lost.push(format!("{:?} -> {:?}", generated.question, best.interpretation));
        }
    }
    let accuracy = right as f64 / QUESTIONS as f64;
    println!("generated questions: {right} of {QUESTIONS} exactly right ({:.1}%)", accuracy * 100.0);
    for (template, (r, n)) in &by_template {
        println!("  {template:<48} {r:>4} of {n:>4} ({:.1}%)", 100.0 * *r as f64 / *n as f64);
    }
    for miss in &misses {
        println!(" - {miss}");
    }
    assert!(
        lost.is_empty(),
        "{} questions lost a model or country they name, e.g.:\n{}",
        lost.len(),
        lost.iter().take(20).cloned().collect::<Vec<_>>().join("\n")
    );
    assert!(
        accuracy >= ACCURACY_FLOOR,
        "accuracy {:.1}% fell under the floor {:.1}%",
        accuracy * 100.0,
        ACCURACY_FLOOR * 100.0
    );
}
