//! From question to interpretation: tokens, time expressions, entities, keywords, then an
//! intent and a confidence that says how much of the question the patterns explained.

use chrono::{Datelike, NaiveDate};

use super::lexicon::{Entity, Lexicon, fold};
use super::words::{
    ABBREVIATIONS, CORRECTABLE, FILLER, NOT_TYPOS, OFF_TOPIC, OFF_TOPIC_PHRASES, count, month_number,
    number_word,
};
use super::{Intent, Interpretation, period};
use crate::domain::{BodyType, FuelType};
use crate::summary::compare::{Comparison, year_before};
use crate::summary::{Granularity, Metric, SortOrder};

/// Longest question accepted (characters); longer ones are refused before parsing.
pub const MAX_QUESTION_CHARS: usize = 500;
/// Tokens looked at; a question can't usefully have more.
const MAX_TOKENS: usize = 120;

/// One reading of a question and how sure the parser is of it (0 to 1).
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    pub interpretation: Interpretation,
    pub confidence: f64,
}

/// The best reading, the next-best ones, and notes on what could not be placed.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    pub best: Reading,
    pub alternatives: Vec<Reading>,
    pub notes: Vec<String>,
}

/// The note of a parse whose best reading was too unsure to run.
const UNSURE: &str = "not sure enough of this reading to answer it: see the alternatives";

impl Parsed {
    /// The same parse with alternative `index` (0 = the first of `alternatives`) as the reading
    /// to answer, for a user who picked it; the former best reading becomes an alternative.
    pub fn choosing(&self, index: usize) -> Option<Parsed> {
        let chosen = self.alternatives.get(index)?.clone();
        let mut alternatives: Vec<Reading> = Vec::with_capacity(self.alternatives.len());
        if self.best.interpretation.intent != Intent::Unknown {
            alternatives.push(self.best.clone());
        }
        alternatives.extend(
            self.alternatives.iter().enumerate().filter(|(i, _)| *i != index).map(|(_, r)| r.clone()),
        );
        let mut notes: Vec<String> = self.notes.iter().filter(|n| *n != UNSURE).cloned().collect();
        notes.push(format!("answered alternative {} as asked, not the best reading", index + 1));
        Some(Parsed { best: chosen, alternatives, notes })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mark {
    Free,
    /// A word that carries no meaning here ("the", "show").
    Filler,
    /// Explained by a keyword, an entity or a time expression.
    Explained,
    /// A word of another subject ("weather", "population", "share price").
    OffTopic,
}

#[derive(Debug)]
struct Token {
    lower: String,
    original: String,
    mark: Mark,
}

/// Splits on anything that is not a letter or digit. Dotted abbreviations ("U.S.", "u.s.a.")
/// become one word in capitals, so that they read as codes.
fn tokenize(question: &str) -> Vec<Token> {
    let chars: Vec<char> = question.chars().take(MAX_QUESTION_CHARS * 4).collect();
    let mut tokens = Vec::new();
    let mut current = String::new();
    let mut dotted = false;
    let finish = |current: &mut String, dotted: &mut bool, tokens: &mut Vec<Token>| {
        if !current.is_empty() && tokens.len() < MAX_TOKENS {
            let original = if *dotted { current.to_uppercase() } else { current.clone() };
            tokens.push(Token { lower: current.to_lowercase(), original, mark: Mark::Free });
        }
        current.clear();
        *dotted = false;
    };
    let mut skip_s = false;
    for (i, &c) in chars.iter().enumerate() {
        if skip_s {
            skip_s = false;
            if c == 's' {
                continue;
            }
        }
        if c.is_alphanumeric() {
            current.push(c);
            continue;
        }
        // "the X5's share": the possessive is not a word.
        if matches!(c, '\'' | '’')
            && chars.get(i + 1) == Some(&'s')
            && chars.get(i + 2).is_none_or(|n| !n.is_alphanumeric())
        {
            finish(&mut current, &mut dotted, &mut tokens);
            skip_s = true;
            continue;
        }
        let letters_so_far =
            !current.is_empty() && current.chars().all(char::is_alphabetic) && current.chars().count() <= 3;
        let single_letter_follows = chars.get(i + 1).is_some_and(|n| n.is_alphabetic())
            && chars.get(i + 2).is_none_or(|n| !n.is_alphanumeric());
        if c == '.' && letters_so_far && (dotted || current.chars().count() == 1) && single_letter_follows {
            dotted = true;
            continue;
        }
        finish(&mut current, &mut dotted, &mut tokens);
        // "%" and "&" are words here.
        let symbol = match c {
            '%' => Some("percent"),
            '&' | '+' => Some("and"),
            _ => None,
        };
        if let Some(word) = symbol
            && tokens.len() < MAX_TOKENS
        {
            tokens.push(Token { lower: word.into(), original: word.into(), mark: Mark::Free });
        }
    }
    finish(&mut current, &mut dotted, &mut tokens);
    expand_short_forms(tokens)
}

/// Short forms written out ("yr", "qtr", "mom", "avg"), "no. of" read as "number of", and a
/// two-digit year after a quarter or half ("q1 24") as the full year.
fn expand_short_forms(tokens: Vec<Token>) -> Vec<Token> {
    let mut expanded: Vec<Token> = Vec::with_capacity(tokens.len());
    let mut iter = tokens.into_iter().peekable();
    while let Some(token) = iter.next() {
        let next_is_of = iter.peek().is_some_and(|t| t.lower == "of");
        if token.lower == "no" && next_is_of && expanded.is_empty() {
            expanded.push(Token { lower: "number".into(), original: "number".into(), mark: Mark::Free });
            continue;
        }
        let after_quarter = expanded
            .last()
            .is_some_and(|t| matches!(t.lower.as_str(), "q1" | "q2" | "q3" | "q4" | "h1" | "h2"));
        if after_quarter && token.lower.len() == 2 && token.lower.chars().all(|c| c.is_ascii_digit()) {
            let year = format!("20{}", token.lower);
            expanded.push(Token { lower: year.clone(), original: year, mark: Mark::Free });
            continue;
        }
        match ABBREVIATIONS.iter().find(|(short, _)| *short == token.lower) {
            Some((_, words)) => expanded.extend(words.iter().map(|w| Token {
                lower: (*w).to_string(),
                original: (*w).to_string(),
                mark: Mark::Free,
            })),
            None => expanded.push(token),
        }
    }
    expanded.truncate(MAX_TOKENS);
    expanded
}

fn body_type(word: &str) -> Option<BodyType> {
    Some(match word {
        "sedan" | "sedans" | "saloon" | "saloons" => BodyType::Sedan,
        "hatchback" | "hatchbacks" | "hatch" | "hatches" => BodyType::Hatchback,
        "coupe" | "coupes" | "coupé" | "coupés" => BodyType::Coupe,
        "roadster" | "roadsters" | "convertible" | "convertibles" | "cabrio" | "cabrios" | "cabriolet"
        | "cabriolets" | "spider" | "spyder" => BodyType::Roadster,
        "suv" | "suvs" | "sav" | "savs" | "crossover" | "crossovers" | "4x4" | "4x4s" | "offroader"
        | "offroaders" => BodyType::Suv,
        _ => return None,
    })
}

fn fuel_type(word: &str) -> Option<FuelType> {
    Some(match word {
        "petrol" | "gasoline" | "gas" | "benzin" | "benzine" => FuelType::Petrol,
        "diesel" | "diesels" => FuelType::Diesel,
        "hybrid" | "hybrids" | "phev" | "phevs" => FuelType::Hybrid,
        "electric" | "electrics" | "ev" | "evs" | "bev" | "bevs" | "battery" | "electrified" => {
            FuelType::Electric
        }
        _ => return None,
    })
}

/// What keywords say; counted so that competing readings lower the confidence.
#[derive(Debug, Default)]
struct Signals {
    forecast: bool,
    inventory: bool,
    marketing: bool,
    seasonality: bool,
    compare: bool,
    trend: bool,
    rank: bool,
    total: bool,
    /// Sales words: evidence that the question is about sales at all.
    domain: bool,
    ascending: bool,
    revenue: bool,
    granularity: Option<Granularity>,
    /// Singular ("model") or plural ("models") of what is ranked.
    plural: Option<bool>,
    countries_ranked: bool,
    /// "fastest growing", "biggest losers": models ranked by their change.
    growth: bool,
    /// "share", "percentage", "what part of".
    share: bool,
    /// "year on year", "against the previous year": compared with the same days a year earlier.
    year_over_year: bool,
    /// "against the month before": compared with the days just before.
    previous_period: bool,
    /// "average price", "revenue per unit": revenue divided by units.
    average_price: bool,
    /// "number one": a ranking of one.
    number_one: bool,
    /// Words that show the question is about selling cars (sales, units, revenue, a body or
    /// fuel type, a cue of an intent); weighed against `off_topic`.
    sales_words: usize,
    /// Words of other subjects (people, weather, share prices).
    off_topic: usize,
    /// "weekly", "daily": a series finer than the month, which is read by month.
    finer_than_month: bool,
}

impl Signals {
    /// Reads one keyword; says whether the word was one.
    fn read(&mut self, word: &str, next: Option<&str>, previous: Option<&str>) -> bool {
        match word {
            "forecast" | "forecasts" | "forecasted" | "forecasting" | "predict" | "predicted"
            | "prediction" | "predictions" | "projected" | "projection" | "projections" | "project"
            | "outlook" | "expect" | "expected" | "expecting" | "will" | "anticipated" => {
                self.forecast = true;
                self.sales_words += 1;
            }
            "stock" | "stocks" | "stocking" | "restock" | "restocking" | "inventory" | "inventories"
            | "reorder" | "replenish" | "replenishment" | "supply" | "overstocked" | "understocked"
            | "overstock" | "order" | "ordering" => {
                self.inventory = true;
                self.sales_words += 1;
            }
            "short" if next == Some("of") => {
                self.inventory = true;
                self.sales_words += 1;
            }
            "marketing" | "promote" | "promoting" | "promotion" | "promotions" | "promo" | "promos"
            | "campaign" | "campaigns" | "advertise" | "advertising" | "advertisement" | "ad" | "ads"
            | "push" | "boost" | "underperforming" | "underperform" | "underperformers" | "lagging"
            | "struggling" | "struggle" => {
                self.marketing = true;
                self.sales_words += 1;
            }
            "spend" | "budget"
                if self.marketing || matches!(previous, Some("ad" | "ads" | "campaign" | "marketing")) => {}
            "peak" | "peaks" | "peaking" | "season" | "seasons" | "seasonal" | "seasonality"
            | "seasonally" | "busiest" | "quietest" => {
                self.seasonality = true;
                self.sales_words += 1;
            }
            "compare" | "comparison" | "comparing" | "versus" | "vs" | "against" | "fare" | "fares" => {
                self.compare = true
            }
            "compared" => self.compare = true,
            "stack" if next == Some("up") => self.compare = true,
            "trend" | "trends" | "trending" | "evolution" | "evolved" | "develop" | "developed"
            | "developing" | "development" | "historical" | "growth" | "growing" | "trajectory"
            | "falling" | "declining" | "rising" | "increasing" | "decreasing" | "dropping" | "climbing"
            | "slipping" | "dying" | "booming" | "recovering" | "slowing" | "stalling" | "collapsing" => {
                self.trend = true;
                self.sales_words += 1;
            }
            "history" => {
                self.trend = true;
                self.off_topic += 1;
            }
            "monthly" => {
                self.trend = true;
                self.granularity = Some(Granularity::Month)
            }
            // No series finer than a month: read by month, and said so.
            "weekly" | "daily" => {
                self.trend = true;
                self.finer_than_month = true;
                self.granularity = Some(Granularity::Month)
            }
            "quarterly" => {
                self.trend = true;
                self.granularity = Some(Granularity::Quarter)
            }
            "yearly" | "annual" | "annually" => {
                self.trend = true;
                self.granularity = Some(Granularity::Year)
            }
            "month" | "quarter" | "year" if matches!(previous, Some("by" | "per" | "each" | "every")) => {
                self.trend = true;
                self.granularity = Some(match word {
                    "month" => Granularity::Month,
                    "quarter" => Granularity::Quarter,
                    _ => Granularity::Year,
                })
            }
            "time" if previous == Some("over") => self.trend = true,
            "top" | "best" | "most" | "highest" | "biggest" | "largest" | "leading" | "popular"
            | "strongest" | "bestselling" | "bestsellers" | "bestseller" | "rank" | "ranking" | "ranked"
            | "lead" | "leads" | "leader" | "leaders" => {
                self.rank = true;
                match word {
                    "bestsellers" | "leaders" => self.plural = Some(true),
                    "bestseller" | "leader" => {
                        self.plural.get_or_insert(false);
                    }
                    _ => {}
                }
                if matches!(word, "bestselling" | "bestsellers" | "bestseller") {
                    self.domain = true;
                    self.sales_words += 1;
                }
            }
            "least" | "worst" | "lowest" | "bottom" | "fewest" | "slowest" | "poorest" | "smallest"
            | "weakest" => {
                self.rank = true;
                self.ascending = true
            }
            "total" | "overall" | "altogether" | "sum" | "combined" | "count" => self.total = true,
            // "How many" asks for a count, but not that the count is of car sales.
            "many" if previous == Some("how") => self.total = true,
            "number" if next == Some("of") => self.total = true,
            "revenue" | "revenues" | "turnover" | "earnings" | "income" | "value" | "worth" => {
                self.revenue = true;
                self.domain = true;
                self.sales_words += 1;
            }
            // Money, but not by itself evidence of car sales ("euro and dollar").
            "money" | "dollars" | "dollar" | "usd" | "euros" | "eur" => {
                self.revenue = true;
                self.domain = true;
            }
            "bring" | "brought" | "brings" if next == Some("in") => {
                self.revenue = true;
                self.total = true;
                self.domain = true;
                self.sales_words += 1;
            }
            "sales" | "sale" | "sold" | "sell" | "sells" | "selling" | "seller" | "sellers" | "units"
            | "unit" | "deliveries" | "delivered" | "registrations" | "registered" | "volume" | "volumes"
            | "demand" | "performance" | "performing" | "performed" | "figures" | "numbers" | "bought"
            | "purchased" | "buy" | "buys" | "buying" | "deliver" | "delivery" | "registration" | "moved"
            | "shifted" | "orders" => {
                self.domain = true;
                self.sales_words += 1;
                match word {
                    "sellers" => self.plural = Some(true),
                    "seller" => {
                        self.plural.get_or_insert(false);
                    }
                    _ => {}
                }
            }
            "models" | "cars" | "vehicles" => {
                self.domain = true;
                self.sales_words += 1;
                self.plural.get_or_insert(true);
            }
            "model" | "car" | "vehicle" => {
                self.domain = true;
                self.sales_words += 1;
                self.plural.get_or_insert(false);
            }
            "countries" | "markets" | "regions" => {
                self.domain = true;
                self.sales_words += 1;
                self.countries_ranked = true;
                self.plural = Some(true)
            }
            "country" | "market" | "region" => {
                self.domain = true;
                self.sales_words += 1;
                self.countries_ranked = true;
                if previous != Some("by") && previous != Some("per") {
                    self.plural = Some(false)
                }
            }
            "where" => self.countries_ranked = true,
            "when" | "month" | "months" if self.seasonality => {}
            "need" | "needs" | "attention" | "help" => self.marketing |= matches!(word, "attention"),
            _ => return false,
        }
        true
    }

    /// Candidate intents, strongest first. `compared`: the question compares its period with
    /// another; `has_part`: it names a fuel, body type or model that a share could be of.
    fn intents(&self, entity_groups: usize, compared: bool, has_part: bool) -> Vec<Intent> {
        let mut intents = Vec::new();
        if self.average_price {
            intents.push(Intent::AveragePrice);
        }
        if self.growth {
            intents.push(Intent::Growth);
        }
        if self.share && has_part {
            intents.push(Intent::Share);
        }
        if self.forecast {
            intents.push(Intent::Forecast);
        }
        if self.inventory {
            intents.push(Intent::Inventory);
        }
        if self.marketing {
            intents.push(Intent::Marketing);
        }
        if self.seasonality {
            intents.push(Intent::Seasonality);
        }
        if self.compare && entity_groups >= 2 {
            intents.push(Intent::Compare);
        }
        if self.rank {
            intents.push(if self.countries_ranked { Intent::TopCountries } else { Intent::TopModels });
        }
        // A period compared with another is a total and its change ("growth of the iX3 versus
        // last year"), not a series.
        if self.trend && !(compared && self.granularity.is_none()) {
            intents.push(Intent::Trend);
        }
        if self.compare && entity_groups < 2 && !compared {
            intents.push(Intent::Compare);
        }
        if self.total {
            intents.push(Intent::Total);
        }
        intents
    }
}

/// The question's reading before the intent is chosen.
#[derive(Debug, Default)]
struct Mentions {
    models: Vec<String>,
    countries: Vec<String>,
    regions: Vec<String>,
    body_types: Vec<BodyType>,
    fuel_types: Vec<FuelType>,
    period: Option<(NaiveDate, NaiveDate)>,
    /// Every period named, with the position of its first word.
    periods: Vec<(NaiveDate, NaiveDate, usize)>,
    /// What the period is compared with.
    compare: Option<Comparison>,
    limit: Option<u32>,
    fuzzy: Vec<(String, Entity)>,
    /// Cue words read as another word one slip away ("modles" as "models").
    corrected: Vec<(String, String)>,
    unknown: Vec<String>,
    extra_periods: usize,
}

fn push_unique<T: PartialEq>(list: &mut Vec<T>, value: T) {
    if !list.contains(&value) {
        list.push(value);
    }
}

fn add_entity(found: &mut Mentions, entity: &Entity) {
    match entity {
        Entity::Model(name) => push_unique(&mut found.models, name.clone()),
        Entity::Country(code) => push_unique(&mut found.countries, code.clone()),
        Entity::Region(region) => push_unique(&mut found.regions, region.clone()),
        Entity::Regions(regions) => {
            for region in regions {
                push_unique(&mut found.regions, region.clone());
            }
        }
    }
}

fn describe(entity: &Entity) -> String {
    match entity {
        Entity::Model(name) | Entity::Region(name) => name.clone(),
        Entity::Regions(regions) => regions.join(" and "),
        Entity::Country(code) => code.clone(),
    }
}

const RANK_WORDS: &[&str] = &[
    "top",
    "fastest",
    "best",
    "most",
    "highest",
    "biggest",
    "largest",
    "leading",
    "least",
    "worst",
    "lowest",
    "bottom",
    "fewest",
    "bestselling",
    "bestsellers",
    "popular",
    "smallest",
    "weakest",
    "strongest",
    "slowest",
    "poorest",
];
const RANKED_NOUNS: &[&str] = &[
    "models",
    "model",
    "cars",
    "car",
    "vehicles",
    "countries",
    "country",
    "markets",
    "market",
    "sellers",
    "regions",
];

/// Words that put what follows against what comes before.
const COMPARE_WORDS: &[&str] = &["against", "vs", "versus", "compared", "than"];

/// Whether the words before position `i` compare: "against", "compared with the", "vs the
/// same quarter".
fn after_compare_word(tokens: &[Token], i: usize) -> bool {
    let word = |back: usize| i.checked_sub(back).map(|j| tokens[j].lower.as_str());
    let mut back = 1;
    while back < 5
        && matches!(
            word(back),
            Some("the" | "with" | "to" | "same" | "month" | "quarter" | "period" | "days" | "time")
        )
    {
        back += 1;
    }
    word(back).is_some_and(|w| COMPARE_WORDS.contains(&w))
}

/// Reads "year on year", "the previous year" or "the month before" after a comparing word,
/// "fastest growing", "biggest losers", "share" and "percentage", marking their words.
fn read_comparison_phrases(tokens: &mut [Token], signals: &mut Signals) {
    let words: Vec<String> = tokens
        .iter()
        .map(|t| if t.mark == Mark::OffTopic { String::new() } else { t.lower.clone() })
        .collect();
    let word = |i: usize| words.get(i).map(String::as_str);
    let mut explained: Vec<usize> = Vec::new();
    for (i, this) in words.iter().enumerate() {
        match this.as_str() {
            // "month on month", "quarter over quarter": each period against the one before.
            "month" | "quarter"
                if matches!(word(i + 1), Some("on" | "over" | "to"))
                    && word(i + 2) == Some(this.as_str()) =>
            {
                signals.previous_period = true;
                signals.trend = true;
                signals.granularity =
                    Some(if this == "month" { Granularity::Month } else { Granularity::Quarter });
                explained.extend([i, i + 1, i + 2]);
            }
            // "month by month", "year by year": a series.
            "month" | "quarter" | "year"
                if word(i + 1) == Some("by") && word(i + 2) == Some(this.as_str()) =>
            {
                signals.trend = true;
                signals.granularity = Some(match this.as_str() {
                    "month" => Granularity::Month,
                    "quarter" => Granularity::Quarter,
                    _ => Granularity::Year,
                });
                explained.extend([i, i + 1, i + 2]);
            }
            // "over the years": a yearly series.
            "years" if word(i.wrapping_sub(1)) == Some("the") && word(i.wrapping_sub(2)) == Some("over") => {
                signals.trend = true;
                signals.granularity.get_or_insert(Granularity::Year);
                explained.extend([i - 2, i - 1, i]);
            }
            // "going up", "picking up", "going down": which way a series goes.
            "going" | "picking" | "heading" | "trending" if matches!(word(i + 1), Some("up" | "down")) => {
                signals.trend = true;
                signals.sales_words += 1;
                explained.extend([i, i + 1]);
            }
            // "time of year": when in the year.
            "time" if word(i + 1) == Some("of") && matches!(word(i + 2), Some("year" | "the")) => {
                signals.seasonality = true;
                signals.sales_words += 1;
                let end = if word(i + 2) == Some("the") { i + 3 } else { i + 2 };
                explained.extend(i..=end.min(words.len() - 1));
            }
            "stack" if word(i + 1) == Some("up") => {
                signals.compare = true;
                explained.extend([i, i + 1]);
            }
            "side" if word(i + 1) == Some("by") && word(i + 2) == Some("side") => {
                signals.compare = true;
                explained.extend([i, i + 1, i + 2]);
            }
            "better" | "worse" if word(i + 1) == Some("than") => {
                signals.compare = true;
                explained.extend([i, i + 1]);
            }
            // "number one": a ranking of one.
            "number" if matches!(word(i + 1), Some("one" | "1")) => {
                signals.rank = true;
                signals.number_one = true;
                signals.plural = Some(false);
                explained.extend([i, i + 1]);
            }
            // "average price", "mean selling price", "average transaction price".
            "average" | "mean" | "typical"
                if (i + 1..(i + 4).min(words.len())).any(|j| matches!(word(j), Some("price" | "prices"))) =>
            {
                signals.average_price = true;
                signals.sales_words += 1;
                let price =
                    (i + 1..(i + 4).min(words.len())).find(|j| matches!(word(*j), Some("price" | "prices")));
                explained.push(i);
                explained.extend((i + 1..=price.unwrap_or(i)).filter(|j| {
                    matches!(
                        word(*j),
                        Some("price" | "prices" | "selling" | "sale" | "transaction" | "sales" | "retail")
                    )
                }));
            }
            // "price per car", "revenue per unit".
            "price" | "revenue" | "turnover"
                if word(i + 1) == Some("per")
                    && matches!(word(i + 2), Some("unit" | "car" | "vehicle" | "sale")) =>
            {
                signals.average_price = true;
                signals.sales_words += 1;
                explained.extend([i, i + 1, i + 2]);
            }
            // "the price of an X5", "X5 prices": what a model sells for.
            "price" | "prices" | "priced" | "pricing" => {
                signals.average_price = true;
                signals.sales_words += 1;
                explained.push(i);
            }
            // "how much does an X3 sell for on average".
            "average"
                if word(i.wrapping_sub(1)) == Some("on")
                    && words[..i].iter().any(|w| {
                        matches!(w.as_str(), "sell" | "sells" | "sold" | "cost" | "costs" | "go")
                    }) =>
            {
                signals.average_price = true;
                signals.sales_words += 1;
                explained.extend([i - 1, i]);
            }
            "yoy" => {
                signals.year_over_year = true;
                explained.push(i);
            }
            "year" if matches!(word(i + 1), Some("on" | "over")) && word(i + 2) == Some("year") => {
                signals.year_over_year = true;
                explained.extend([i, i + 1, i + 2]);
            }
            "previous" | "prior" if word(i + 1) == Some("year") && after_compare_word(tokens, i) => {
                signals.year_over_year = true;
                explained.extend([i, i + 1]);
            }
            "month" | "quarter" | "period" | "year"
                if word(i + 1) == Some("before") && i > 0 && after_compare_word(tokens, i) =>
            {
                if this == "year" {
                    signals.year_over_year = true;
                } else {
                    signals.previous_period = true;
                }
                explained.extend([i, i + 1]);
            }
            "previous" | "prior" if word(i + 1) == Some("period") => {
                signals.previous_period = true;
                explained.extend([i, i + 1]);
            }
            "same" if matches!(word(i + 1), Some("month" | "quarter" | "period" | "days" | "time")) => {
                explained.extend([i, i + 1]);
            }
            "fastest" | "quickest" => {
                let next = word(i + 1).unwrap_or_default();
                if matches!(next, "growing" | "rising" | "gaining" | "climbing" | "increasing") {
                    signals.growth = true;
                    explained.extend([i, i + 1]);
                } else if matches!(next, "falling" | "declining" | "shrinking" | "dropping" | "decreasing") {
                    signals.growth = true;
                    signals.ascending = true;
                    explained.extend([i, i + 1]);
                }
            }
            "grew" | "grown" | "gained" | "rose" | "increased" | "improved" | "climbed"
                if matches!(word(i + 1), Some("most" | "the")) =>
            {
                signals.growth = true;
                explained.push(i);
            }
            "declined" | "dropped" | "fell" | "fallen" | "shrank" | "decreased" | "lost" | "slipped"
                if matches!(word(i + 1), Some("most" | "the")) =>
            {
                signals.growth = true;
                signals.ascending = true;
                explained.push(i);
            }
            // "which models are growing fastest".
            "growing" | "rising" | "gaining" | "climbing" | "increasing"
                if matches!(word(i + 1), Some("fastest" | "quickest" | "most")) =>
            {
                signals.growth = true;
                explained.extend([i, i + 1]);
            }
            "falling" | "declining" | "shrinking" | "dropping" | "decreasing"
                if matches!(word(i + 1), Some("fastest" | "quickest" | "most")) =>
            {
                signals.growth = true;
                signals.ascending = true;
                explained.extend([i, i + 1]);
            }
            "gainers" | "winners" | "risers" | "growers" | "climbers" => {
                signals.growth = true;
                explained.push(i);
            }
            "losers" | "fallers" | "decliners" => {
                signals.growth = true;
                signals.ascending = true;
                explained.push(i);
            }
            "losing"
                if word(i + 1) == Some("ground")
                    || word(i + 2) == Some("ground")
                    || word(i + 3) == Some("ground") =>
            {
                signals.growth = true;
                signals.ascending = true;
                explained.push(i);
                if let Some(ground) = (i + 1..i + 4).find(|j| word(*j) == Some("ground")) {
                    explained.push(ground);
                }
            }
            "share" | "part" | "percentage" | "percent" | "proportion" | "fraction" | "mix"
            | "penetration" => {
                signals.share = true;
                explained.push(i);
            }
            // "how much of our sales": a part of a whole.
            "much" if word(i.wrapping_sub(1)) == Some("how") && word(i + 1) == Some("of") => {
                signals.share = true;
                explained.extend([i - 1, i, i + 1]);
            }
            "change" | "changed" | "doing" => explained.push(i),
            "against" | "vs" | "versus" | "compared" | "compare" | "comparison" | "comparing" | "than" => {
                signals.compare = true
            }
            _ => {}
        }
    }
    for i in explained {
        tokens[i].mark = Mark::Explained;
    }
}

/// Pairs of words of another subject ("share price", "stock market"): marked before any cue
/// reads "share" or "stock" in them.
fn mark_off_topic_phrases(tokens: &mut [Token], signals: &mut Signals) {
    for i in 1..tokens.len() {
        let pair = (tokens[i - 1].lower.as_str(), tokens[i].lower.as_str());
        if OFF_TOPIC_PHRASES.contains(&pair) {
            tokens[i - 1].mark = Mark::OffTopic;
            tokens[i].mark = Mark::OffTopic;
            signals.off_topic += 1;
        }
    }
}

/// Whether a word already means something here: a cue, a filler word, a name, a month, a
/// number, a body or fuel type, or a word of another subject.
fn known_word(word: &str, lexicon: &Lexicon) -> bool {
    FILLER.contains(&word)
        || OFF_TOPIC.contains(&word)
        || NOT_TYPOS.contains(&word)
        || Signals::default().read(word, None, None)
        || body_type(word).is_some()
        || fuel_type(word).is_some()
        || month_number(word).is_some()
        || number_word(word).is_some()
        || period::WORDS.contains(&word)
        || {
            let folded = fold(word);
            lexicon.exact(&folded).is_some() || lexicon.model_plural(&folded).is_some()
        }
}

/// How many slips `typed` is from `word` when it is one slip from it (a letter left out, added,
/// changed, or two neighbours swapped; two slips for words of nine letters or more). Four-letter
/// words only count a swap ("mnay").
fn slips(typed: &str, word: &str) -> Option<usize> {
    // People rarely miss a word's first letter; they do swap the first two ("mdoels"). Checked
    // before the distance, which is most of the time a question with unknown words takes.
    let (t, w) = (typed.as_bytes(), word.as_bytes());
    let first_letters_agree =
        t.first() == w.first() || (t.len() > 1 && w.len() > 1 && t[0] == w[1] && t[1] == w[0]);
    if !first_letters_agree || typed.len().abs_diff(word.len()) > 2 {
        return None;
    }
    let distance = strsim::osa_distance(typed, word);
    let close = if typed.len() <= 4 {
        let mut a: Vec<char> = typed.chars().collect();
        let mut b: Vec<char> = word.chars().collect();
        a.sort_unstable();
        b.sort_unstable();
        distance == 1 && a == b
    } else {
        distance == 1 || (typed.len() >= 9 && distance == 2)
    };
    close.then_some(distance)
}

/// Mistyped cue words put right ("modles", "forcast", "quater"), when the word means nothing
/// as typed and is one slip from exactly one cue. Returns what was read as what.
fn correct_typos(tokens: &mut [Token], lexicon: &Lexicon) -> Vec<(String, String)> {
    let mut corrected = Vec::new();
    for token in tokens.iter_mut() {
        let typed = token.lower.as_str();
        if typed.len() < 4 || !typed.chars().all(|c| c.is_ascii_lowercase()) || known_word(typed, lexicon) {
            continue;
        }
        // A mistyped name is for the near-miss pass of the names, not for the cues.
        if lexicon.near(typed, false).is_some() {
            continue;
        }
        // The nearest cue, when one is nearer than the others ("convertables": "convertibles",
        // not "convertible").
        let mut candidates: Vec<(usize, &str)> =
            CORRECTABLE.iter().filter_map(|word| Some((slips(typed, word)?, *word))).collect();
        candidates.sort_unstable();
        let nearest = match candidates.as_slice() {
            [(_, word)] => Some(*word),
            [(d, word), (next, _), ..] if d < next => Some(*word),
            _ => None,
        };
        if let Some(word) = nearest {
            corrected.push((token.original.clone(), (*word).to_string()));
            token.lower = (*word).to_string();
        }
    }
    corrected
}

/// Shapes of questions that say their intent without a cue word: "when does the Z4 sell"
/// (the time of year), "the strongest month" (a month of the year, not a ranking), "X or Y,
/// which did more" (a comparison), "what sold best" (one).
fn read_question_shapes(tokens: &mut [Token], signals: &mut Signals, groups: usize) {
    let free_or_explained = |t: &Token| matches!(t.mark, Mark::Free | Mark::Filler | Mark::Explained);
    let has =
        |words: &[&str]| tokens.iter().any(|t| free_or_explained(t) && words.contains(&t.lower.as_str()));
    let sells = has(&["sell", "sells", "sold", "sales", "buy", "buys", "bought", "selling"]);
    let superlative = has(&[
        "best",
        "strongest",
        "weakest",
        "slowest",
        "busiest",
        "quietest",
        "worst",
        "biggest",
        "highest",
        "lowest",
        "top",
        "most",
        "peak",
    ]);
    // A month or quarter that is not part of a period ("the strongest month", "which quarter").
    let month_noun = tokens.iter().any(|t| {
        t.mark != Mark::Explained && matches!(t.lower.as_str(), "month" | "months" | "quarter" | "quarters")
    });
    let or_shape = has(&["or"]) && groups >= 2 && has(&["which", "more", "better", "where", "who", "bigger"]);
    let when = tokens.first().is_some_and(|t| t.lower == "when")
        || tokens.windows(2).any(|w| {
            w[0].lower == "when" && matches!(w[1].lower.as_str(), "do" | "does" | "did" | "is" | "are")
        });
    if (month_noun && superlative) || (when && sells) {
        signals.seasonality = true;
        signals.rank = false;
        signals.ascending = false;
        signals.countries_ranked = false;
        for token in tokens.iter_mut() {
            if token.mark != Mark::Explained
                && matches!(token.lower.as_str(), "month" | "months" | "quarter" | "quarters" | "when")
            {
                token.mark = Mark::Explained;
            }
        }
    }
    // "X3 or X4, which did more", "did we sell more in Japan or in Korea".
    if or_shape {
        signals.compare = true;
        signals.rank = false;
        signals.countries_ranked = false;
        for token in tokens.iter_mut() {
            if token.mark != Mark::Explained
                && matches!(token.lower.as_str(), "or" | "more" | "better" | "bigger")
            {
                token.mark = Mark::Explained;
            }
        }
    }
    // "what sold best", "which sells most": one, as "which model".
    if signals.plural.is_none()
        && tokens.len() >= 2
        && matches!(tokens[0].lower.as_str(), "what" | "which")
        && matches!(tokens[1].lower.as_str(), "sold" | "sells" | "was" | "is")
    {
        signals.plural = Some(false);
    }
}

/// The first day of `day`'s year.
fn year_start(day: NaiveDate) -> NaiveDate {
    NaiveDate::from_ymd_opt(day.year(), 1, 1).unwrap_or(day)
}

/// Which period is asked about and which it is compared with: "Q1 2024 compared with Q1 2023",
/// "this year against last year" (the same days a year earlier), "against last year" alone
/// (this year so far against the same days of last year), "year on year" (a year earlier),
/// "against the month before" (the days just before).
fn compare_periods(tokens: &[Token], signals: &mut Signals, found: &mut Mentions, as_of: NaiveDate) {
    let compares = signals.compare || signals.year_over_year || signals.previous_period;
    let compared_at = found.periods.iter().position(|(_, _, first)| after_compare_word(tokens, *first));
    let this_year_so_far = (year_start(as_of), as_of);
    let mut current = found.periods.first().map(|(from, to, _)| (*from, *to));
    let mut rest = found.periods.len().saturating_sub(1);
    match (found.periods.len(), compared_at) {
        // "Q1 2024 compared with Q1 2023", "compare Q1 2024 with Q4 2023": the first named is
        // asked about, the second is what it is compared with.
        (n, _) if n >= 2 && compares => {
            let (c_from, c_to, _) = found.periods[0];
            let (from, to, _) = found.periods[1];
            current = Some((c_from, c_to));
            rest = n - 2;
            found.compare = Some(compared((c_from, c_to), (from, to)));
        }
        (1, Some(_)) => {
            let (from, to, _) = found.periods[0];
            // "against last year": this year so far, against the same days of last year.
            if (from, to) == (year_before(this_year_so_far.0), year_start(as_of).pred_opt().unwrap_or(to)) {
                current = Some(this_year_so_far);
                found.compare = Some(Comparison::PreviousYear);
            }
        }
        _ => {}
    }
    if found.compare.is_none() && signals.year_over_year {
        found.compare = Some(Comparison::PreviousYear);
        current.get_or_insert(this_year_so_far);
    }
    if found.compare.is_none() && signals.previous_period && current.is_some() {
        found.compare = Some(Comparison::PreviousPeriod);
    }
    if signals.growth {
        found.compare.get_or_insert(Comparison::PreviousYear);
        current.get_or_insert(this_year_so_far);
    }
    found.period = current;
    found.extra_periods = rest;
}

/// How `compared` relates to `current`: the same days a year earlier, the days just before,
/// or a range of its own. A whole year compared with a part of the next ("this quarter vs the
/// same quarter last year", "this year against last year") means the same days a year earlier.
fn compared(current: (NaiveDate, NaiveDate), compared: (NaiveDate, NaiveDate)) -> Comparison {
    let year_earlier = (year_before(current.0), year_before(current.1));
    let whole_year_before = current.0.year() == current.1.year()
        && compared.0 == NaiveDate::from_ymd_opt(current.0.year() - 1, 1, 1).unwrap_or(compared.0)
        && compared.1 == NaiveDate::from_ymd_opt(current.0.year() - 1, 12, 31).unwrap_or(compared.1);
    let days = (current.1 - current.0).num_days() + 1;
    let just_before = current.0.pred_opt().map(|last| (last - chrono::Duration::days(days - 1), last));
    if compared == year_earlier || whole_year_before {
        Comparison::PreviousYear
    } else if Some(compared) == just_before {
        Comparison::PreviousPeriod
    } else {
        Comparison::Range(compared.0, compared.1)
    }
}

/// Parses a question relative to `as_of`. Pure: the same inputs give the same reading.
#[tracing::instrument(target = "salesgraph::trace", name = "ask parse", skip_all)]
pub fn parse(question: &str, as_of: NaiveDate, lexicon: &Lexicon) -> Parsed {
    let mut tokens = tokenize(question);
    let mut found = Mentions::default();

    // "best-selling" and "best sellers" are one word here.
    for i in 1..tokens.len() {
        if tokens[i - 1].lower == "best"
            && matches!(tokens[i].lower.as_str(), "selling" | "sellers" | "seller")
        {
            tokens[i].lower = format!("best{}", tokens[i].lower);
            tokens[i - 1].mark = Mark::Filler;
        }
    }

    found.corrected = correct_typos(&mut tokens, lexicon);
    let mut signals = Signals::default();
    mark_off_topic_phrases(&mut tokens, &mut signals);

    // Phrases that compare, rank by growth or ask for a share, before the periods they hold
    // ("the previous year" is a comparison here, not a period).
    read_comparison_phrases(&mut tokens, &mut signals);

    // Time expressions first: "2023" and "Q2" are periods, not counts.
    let lower: Vec<String> = tokens.iter().map(|t| t.lower.clone()).collect();
    loop {
        let used: Vec<bool> = tokens.iter().map(|t| t.mark != Mark::Free).collect();
        let Some(found_period) = period::find(&lower, &used, as_of) else { break };
        for &i in &found_period.tokens {
            tokens[i].mark = Mark::Explained;
        }
        let first = found_period.tokens.iter().copied().min().unwrap_or(0);
        found.periods.push((found_period.from, found_period.to, first));
    }
    found.periods.sort_by_key(|(_, _, first)| *first);
    compare_periods(&tokens, &mut signals, &mut found, as_of);

    // Entities: longest run of words first, so "North America" beats "America". In a question
    // typed in capitals, codes are read as in lowercase ("TOP MODELS IN SPAIN": "IN" is a word).
    let shouting = !question.chars().any(char::is_lowercase);
    // "nor" is Norway's code unless the question says "neither".
    let nor_is_norway = !tokens.iter().any(|t| t.lower == "neither");
    let mut i = 0;
    while i < tokens.len() {
        if tokens[i].mark != Mark::Free {
            i += 1;
            continue;
        }
        let mut matched = 0;
        for n in (1..=lexicon.max_words.min(tokens.len() - i)).rev() {
            if tokens[i..i + n].iter().any(|t| t.mark != Mark::Free) {
                continue;
            }
            let key: String = tokens[i..i + n].iter().map(|t| fold(&t.lower)).collect();
            let previous = i.checked_sub(1).map(|p| tokens[p].lower.as_str());
            let entity = lexicon.exact(&key).or_else(|| {
                if n > 1 {
                    None
                } else if tokens[i].lower == "nor" && nor_is_norway {
                    lexicon.code("NOR")
                } else if shouting {
                    lexicon.lowercase_code(&tokens[i].lower, previous).or_else(|| lexicon.model_plural(&key))
                } else {
                    lexicon
                        .code(&tokens[i].original)
                        .or_else(|| lexicon.lowercase_code(&tokens[i].original, previous))
                        .or_else(|| lexicon.model_plural(&key))
                }
            });
            if let Some(entity) = entity {
                add_entity(&mut found, entity);
                matched = n;
                break;
            }
        }
        if matched > 0 {
            for token in &mut tokens[i..i + matched] {
                token.mark = Mark::Explained;
            }
            i += matched;
        } else {
            i += 1;
        }
    }

    // Keywords, body and fuel types.
    // "the best-selling SUV": a body type counts as the ranked noun only when no other is named.
    let mut body_plural: Option<bool> = None;
    for i in 0..tokens.len() {
        if tokens[i].mark == Mark::Explained {
            continue;
        }
        let word = tokens[i].lower.clone();
        let next = tokens.get(i + 1).map(|t| t.lower.as_str());
        let previous = i.checked_sub(1).map(|p| tokens[p].lower.as_str());
        if let Some(body) = body_type(&word) {
            push_unique(&mut found.body_types, body);
            signals.domain = true;
            signals.sales_words += 1;
            body_plural.get_or_insert(word.ends_with('s'));
            tokens[i].mark = Mark::Explained;
        } else if let Some(fuel) = fuel_type(&word) {
            push_unique(&mut found.fuel_types, fuel);
            signals.sales_words += 1;
            tokens[i].mark = Mark::Explained;
        } else if word == "ice" || (word == "combustion" && previous != Some("internal")) {
            // Internal combustion engines: petrol and diesel.
            push_unique(&mut found.fuel_types, FuelType::Petrol);
            push_unique(&mut found.fuel_types, FuelType::Diesel);
            signals.sales_words += 1;
            tokens[i].mark = Mark::Explained;
        } else if word == "plug" && next == Some("in") {
            // "plug-in sales": plug-in hybrids.
            push_unique(&mut found.fuel_types, FuelType::Hybrid);
            signals.sales_words += 1;
            tokens[i].mark = Mark::Explained;
            tokens[i + 1].mark = Mark::Explained;
        } else if OFF_TOPIC.contains(&word.as_str()) && tokens[i].mark == Mark::Free && word != "history" {
            tokens[i].mark = Mark::OffTopic;
            signals.off_topic += 1;
        } else if tokens[i].mark == Mark::OffTopic {
            continue;
        } else if signals.read(&word, next, previous) {
            tokens[i].mark = Mark::Explained;
        } else if FILLER.contains(&word.as_str())
            || matches!(
                word.as_str(),
                "plug" | "like" | "general" | "detail" | "particular" | "selling" | "sellers"
            )
        {
            tokens[i].mark = Mark::Filler;
        }
    }
    read_question_shapes(&mut tokens, &mut signals, entity_groups(&found));
    if signals.plural.is_none() {
        signals.plural = body_plural;
    }
    if signals.seasonality {
        // "which month", "when": parts of a seasonality question.
        for token in &mut tokens {
            if token.mark != Mark::Explained
                && matches!(
                    token.lower.as_str(),
                    "when"
                        | "month"
                        | "months"
                        | "quarter"
                        | "quarters"
                        | "time"
                        | "year"
                        | "pattern"
                        | "patterns"
                        | "cycle"
                )
            {
                token.mark = Mark::Explained;
            }
        }
    }

    // A count next to a ranking word or a ranked noun is the limit: "top 5", "the 2 least
    // sold models", "5 best-selling", "three countries".
    for i in 0..tokens.len() {
        if tokens[i].mark == Mark::Explained || found.limit.is_some() {
            continue;
        }
        let Some(n) = count(&tokens[i].lower) else { continue };
        let before = i.checked_sub(1).map(|p| tokens[p].lower.as_str());
        let after = tokens.get(i + 1).map(|t| t.lower.as_str());
        let ranks = before.is_some_and(|w| RANK_WORDS.contains(&w))
            || after
                .is_some_and(|w| RANK_WORDS.contains(&w) || RANKED_NOUNS.contains(&w) || w == "bestselling");
        if ranks {
            found.limit = Some(n);
            tokens[i].mark = Mark::Explained;
        }
    }

    // Near misses of catalogue names of several words ("unted states"), of one ("Germny"),
    // then what names nothing at all.
    for n in [3, 2] {
        let mut i = 0;
        while i + n <= tokens.len() {
            let run = &tokens[i..i + n];
            let free = run.iter().all(|t| t.mark == Mark::Free && t.lower.chars().all(char::is_alphabetic));
            let joined: String =
                if free { run.iter().map(|t| fold(&t.lower)).collect() } else { String::new() };
            if let Some(entity) = (joined.len() >= 8).then(|| lexicon.near(&joined, true)).flatten() {
                let written = run.iter().map(|t| t.original.as_str()).collect::<Vec<_>>().join(" ");
                add_entity(&mut found, entity);
                found.fuzzy.push((written, entity.clone()));
                for token in &mut tokens[i..i + n] {
                    token.mark = Mark::Explained;
                }
                i += n;
            } else {
                i += 1;
            }
        }
    }
    for token in &mut tokens {
        if token.mark != Mark::Free {
            continue;
        }
        if let Some(entity) = lexicon.near(&fold(&token.lower), false) {
            add_entity(&mut found, entity);
            found.fuzzy.push((token.original.clone(), entity.clone()));
            token.mark = Mark::Explained;
        }
    }
    let mut i = 0;
    while i < tokens.len() {
        let token = &tokens[i];
        let name_like = token.mark == Mark::Free
            && token.original.chars().count() >= 3
            && token.original.chars().all(char::is_alphabetic);
        // In a question typed in capitals, capitals say nothing about names.
        let capitalized = !shouting && i > 0 && token.original.chars().next().is_some_and(char::is_uppercase);
        let introduced = i > 0 && matches!(tokens[i - 1].lower.as_str(), "in" | "for" | "of" | "from");
        // "Model T": a capitalized word after "model" names a model, even a short one.
        let after_model = !shouting
            && i > 0
            && matches!(tokens[i - 1].lower.as_str(), "model" | "models")
            && token.mark != Mark::Explained
            && token.original.chars().next().is_some_and(char::is_uppercase);
        if after_model {
            found.unknown.push(format!("{} {}", tokens[i - 1].original, token.original));
            i += 1;
            continue;
        }
        if name_like && (capitalized || introduced) {
            let mut phrase = vec![token.original.clone()];
            let mut j = i + 1;
            while j < tokens.len()
                && tokens[j].mark == Mark::Free
                && tokens[j].original.chars().next().is_some_and(char::is_uppercase)
            {
                phrase.push(tokens[j].original.clone());
                j += 1;
            }
            found.unknown.push(phrase.join(" "));
            i = j;
        } else {
            i += 1;
        }
    }

    decide(&tokens, &signals, found, as_of)
}

/// How many things of one kind the question names side by side: models, places, fuels or
/// body types.
fn entity_groups(found: &Mentions) -> usize {
    found
        .models
        .len()
        .max(found.countries.len() + found.regions.len())
        .max(found.fuel_types.len())
        .max(found.body_types.len())
}

fn build(intent: Intent, signals: &Signals, found: &Mentions, as_of: NaiveDate) -> (Interpretation, bool) {
    let mut guessed = false;
    let mut interpretation = Interpretation {
        intent,
        models: found.models.clone(),
        countries: found.countries.clone(),
        regions: found.regions.clone(),
        body_types: found.body_types.clone(),
        fuel_types: found.fuel_types.clone(),
        from: found.period.map(|p| p.0),
        to: found.period.map(|p| p.1),
        limit: None,
        metric: if signals.revenue { Metric::Revenue } else { Metric::Units },
        order: if signals.ascending { SortOrder::Asc } else { SortOrder::Desc },
        granularity: signals.granularity,
        compare: None,
    };
    match intent {
        Intent::Total | Intent::Growth | Intent::Trend => interpretation.compare = found.compare,
        _ => {}
    }
    match intent {
        Intent::TopModels | Intent::TopCountries | Intent::Forecast | Intent::Growth => {
            interpretation.limit = found.limit.or_else(|| {
                guessed = !signals.number_one;
                Some(if signals.plural == Some(false) || signals.number_one { 1 } else { 5 })
            });
        }
        // The seasonal profile is by month whatever the question's "monthly".
        Intent::Seasonality => interpretation.granularity = None,
        // Revenue per unit: both measures are read, the metric is not a choice here.
        Intent::AveragePrice => interpretation.metric = Metric::Units,
        Intent::Marketing | Intent::Inventory => interpretation.limit = found.limit,
        Intent::Trend => {
            interpretation.granularity.get_or_insert(Granularity::Month);
        }
        _ => {}
    }
    if matches!(intent, Intent::Forecast | Intent::Inventory)
        && found.period.is_none()
        && let Some((from, to)) = period::next_quarter(as_of)
    {
        interpretation.from = Some(from);
        interpretation.to = Some(to);
    }
    if intent == Intent::Unknown {
        interpretation = Interpretation::unknown();
    }
    (interpretation, guessed)
}

fn decide(tokens: &[Token], signals: &Signals, found: Mentions, as_of: NaiveDate) -> Parsed {
    let mut notes = Vec::new();
    let content: Vec<&Token> = tokens.iter().filter(|t| t.mark != Mark::Filler).collect();
    let explained = content.iter().filter(|t| t.mark == Mark::Explained).count();
    let coverage = if content.is_empty() { 0.0 } else { explained as f64 / content.len() as f64 };
    let has_filter = !found.models.is_empty()
        || !found.countries.is_empty()
        || !found.regions.is_empty()
        || !found.body_types.is_empty()
        || !found.fuel_types.is_empty();
    // Words of another subject outweighing the sales words: out of scope, whatever else.
    let sales_evidence = signals.sales_words + found.models.len();
    // "how many people", "how many sales reps": what is counted is not cars.
    let counts_other_things = tokens.iter().enumerate().any(|(j, t)| {
        t.mark == Mark::OffTopic
            && (j.saturating_sub(3)..j)
                .any(|k| tokens[k].lower == "many" && k > 0 && tokens[k - 1].lower == "how")
    });
    let off_topic = signals.off_topic > sales_evidence || counts_other_things;
    // As many words of another subject as of sales: answered, but not with confidence.
    let mixed_subjects = signals.off_topic > 0 && !off_topic;
    // A question made only of names and periods ("x5 germany 2023") asks for their sales;
    // one with words left over that explain nothing ("the capital of France") does not.
    let only_names = has_filter && coverage >= 0.999 && found.unknown.is_empty();
    let about_sales = only_names
        || signals.sales_words > 0
        || signals.domain
        || signals.average_price
        || signals.rank
        || signals.forecast
        || signals.inventory
        || signals.marketing
        || signals.seasonality
        || signals.trend
        || signals.growth
        || !found.models.is_empty()
        || (signals.share && has_filter)
        // A model of the catalogue with a period ("X3 year to date in Canada") asks for its sales.
        || (!found.models.is_empty() && found.period.is_some())
        || found.compare.is_some()
        || (signals.compare && has_filter);
    let has_part = !found.fuel_types.is_empty() || !found.body_types.is_empty() || !found.models.is_empty();
    let candidates = signals.intents(entity_groups(&found), found.compare.is_some(), has_part);
    let stated = candidates.first().copied();
    // With no intent stated, models named side by side are compared; anything else is a total
    // (of the places named together, too: "sales in AT and CH").
    let intent = match stated {
        Some(intent) => intent,
        None if about_sales && found.models.len() >= 2 => Intent::Compare,
        None if about_sales => Intent::Total,
        None => Intent::Unknown,
    };

    let mut confidence = 0.35 + 0.55 * coverage;
    if stated.is_some() {
        confidence += 0.07;
    } else {
        confidence -= 0.04;
    }
    let competing = candidates.len().saturating_sub(1).min(2);
    confidence -= 0.06 * competing as f64;
    confidence -= 0.12 * found.fuzzy.len() as f64;
    confidence -= 0.1 * found.extra_periods as f64;
    confidence -= 0.05 * found.corrected.len().min(3) as f64;
    for (written, entity) in &found.fuzzy {
        notes.push(format!("read \"{written}\" as {}", describe(entity)));
    }
    for (written, word) in &found.corrected {
        notes.push(format!("read \"{written}\" as \"{word}\""));
    }
    if found.extra_periods > 0 {
        notes.push("the question names more than one period: the first one was used".to_string());
    }

    let (mut interpretation, guessed_limit) = build(intent, signals, &found, as_of);
    if guessed_limit {
        confidence -= 0.02;
    }
    let mut alternatives = Vec::new();
    if !found.unknown.is_empty() {
        for name in &found.unknown {
            notes.push(format!("\"{name}\" is not a model, country or region in the catalogue"));
        }
        // Never answer without a filter the user asked for: the reading without it is only
        // offered as an alternative.
        if intent != Intent::Unknown {
            alternatives.push(Reading {
                interpretation: interpretation.clone(),
                confidence: (confidence - 0.5).max(0.05),
            });
        }
        interpretation = Interpretation::unknown();
        confidence = confidence.min(0.45) - 0.1 * (found.unknown.len() - 1) as f64;
    } else if off_topic || !about_sales {
        interpretation = Interpretation::unknown();
        confidence = (confidence * 0.4).min(0.25);
        let other: Vec<String> = tokens
            .iter()
            .filter(|t| t.mark == Mark::OffTopic)
            .map(|t| format!("\"{}\"", t.original))
            .collect();
        notes.push(if other.is_empty() {
            "this does not look like a question about car sales".to_string()
        } else {
            format!(
                "this does not look like a question about car sales: {} is about something else",
                other.join(", ")
            )
        });
    } else {
        if stated.is_none() && !signals.domain && found.compare.is_none() && found.models.is_empty() {
            // Read from its names alone: offered, never as sure as a question that says what
            // it asks.
            confidence = confidence.min(0.65);
            notes.push(format!("no intent stated: read as {}", intent.name()));
        }
        for other in candidates.iter().skip(1).take(2) {
            let (alternative, _) = build(*other, signals, &found, as_of);
            alternatives.push(Reading { interpretation: alternative, confidence: confidence - 0.15 });
        }
        if stated.is_none() {
            let (trend, _) = build(Intent::Trend, signals, &found, as_of);
            alternatives.push(Reading { interpretation: trend, confidence: confidence - 0.2 });
        }
        if interpretation.intent == Intent::AveragePrice {
            // A role that may not see money can still have the units.
            let units = Interpretation { intent: Intent::Total, ..interpretation.clone() };
            alternatives.push(Reading { interpretation: units, confidence: confidence - 0.2 });
        }
        if interpretation.metric == Metric::Revenue {
            let mut units = interpretation.clone();
            units.metric = Metric::Units;
            alternatives.push(Reading { interpretation: units, confidence: confidence - 0.2 });
        }
        if found.period.is_none() && !matches!(intent, Intent::Forecast | Intent::Inventory) {
            notes.push("no period named: all data".to_string());
        }
        if mixed_subjects {
            confidence = confidence.min(0.55);
            notes.push(
                "the question speaks of other things than car sales too: only its sales part is answered"
                    .into(),
            );
        }
        if signals.finer_than_month && intent == Intent::Trend {
            notes.push("series go by month at the finest: read by month".into());
        }
        if let (Some(compare), None) = (found.compare, interpretation.compare) {
            notes.push(format!(
                "a {} answer is not compared with another period: the comparison ({}) is left out",
                intent.name(),
                match compare {
                    Comparison::PreviousYear => "a year before".to_string(),
                    Comparison::PreviousPeriod => "the period before".to_string(),
                    Comparison::Range(from, to) => format!("{from} to {to}"),
                }
            ));
            confidence -= 0.1;
        }
    }
    if !found.fuzzy.is_empty() && interpretation.intent != Intent::Unknown {
        for (written, entity) in &found.fuzzy {
            let mut without = interpretation.clone();
            match entity {
                Entity::Model(name) => without.models.retain(|m| m != name),
                Entity::Country(code) => without.countries.retain(|c| c != code),
                Entity::Region(region) => without.regions.retain(|r| r != region),
                Entity::Regions(regions) => without.regions.retain(|r| !regions.contains(r)),
            }
            let _ = written;
            alternatives.push(Reading { interpretation: without, confidence: confidence - 0.3 });
        }
    }
    if confidence < 0.5 && interpretation.intent != Intent::Unknown {
        // Below one half nothing is answered: the reading is offered, not run.
        notes.push(UNSURE.to_string());
        alternatives.push(Reading { interpretation, confidence });
        interpretation = Interpretation::unknown();
    }
    let clamp = |c: f64| (c.clamp(0.01, 0.99) * 100.0).round() / 100.0;
    let confidence = clamp(confidence);
    let mut alternatives: Vec<Reading> = alternatives
        .into_iter()
        .filter(|a| a.interpretation != interpretation)
        .map(|a| Reading { confidence: clamp(a.confidence.min(confidence - 0.01)), ..a })
        .collect();
    alternatives.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
    alternatives.dedup_by(|a, b| a.interpretation == b.interpretation);
    alternatives.truncate(3);
    Parsed { best: Reading { interpretation, confidence }, alternatives, notes }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::catalogue::Catalogue;
    use proptest::prelude::*;

    fn as_of() -> NaiveDate {
        NaiveDate::from_ymd_opt(2024, 5, 20).unwrap()
    }

    fn ask(question: &str) -> Parsed {
        parse(question, as_of(), &Lexicon::new(&Catalogue::builtin()))
    }

    #[test]
    fn typos_lower_the_confidence_and_are_noted() {
        let exact = ask("top 3 models in Germany last year");
        let typo = ask("top 3 models in Germny last year");
        assert_eq!(exact.best.interpretation, typo.best.interpretation);
        assert!(exact.best.confidence >= 0.8, "{}", exact.best.confidence);
        assert!(typo.best.confidence < exact.best.confidence);
        assert!(typo.notes.iter().any(|n| n.contains("Germny") && n.contains("DE")), "{:?}", typo.notes);
    }

    #[test]
    fn unknown_places_are_named_and_never_dropped() {
        let parsed = ask("top 5 models in Atlantis last year");
        assert_eq!(parsed.best.interpretation.intent, Intent::Unknown);
        assert!(parsed.best.confidence < 0.5);
        assert!(parsed.notes.iter().any(|n| n.contains("Atlantis")), "{:?}", parsed.notes);
        let alternative = &parsed.alternatives[0];
        assert_eq!(alternative.interpretation.intent, Intent::TopModels);
        assert!(alternative.confidence < parsed.best.confidence);
    }

    #[test]
    fn choosing_an_alternative_answers_it_and_offers_the_best_back() {
        let parsed = ask("top 3 models by revenue in Japan in 2023");
        let chosen = parsed.choosing(0).expect("an alternative");
        assert_eq!(chosen.best, parsed.alternatives[0]);
        assert_eq!(chosen.alternatives[0], parsed.best);
        assert_eq!(chosen.alternatives.len(), parsed.alternatives.len());
        assert!(parsed.choosing(parsed.alternatives.len()).is_none());
        // An unsure best reading is not offered back, and its "not sure" note goes.
        let unsure = ask("X5 Germany 2023 maybe");
        if let Some(chosen) = unsure.choosing(0) {
            assert!(chosen.alternatives.iter().all(|a| a.interpretation.intent != Intent::Unknown));
            assert!(!chosen.notes.iter().any(|n| n == UNSURE));
        }
    }

    #[test]
    fn revenue_questions_offer_the_units_reading() {
        let parsed = ask("top 3 models by revenue in Japan in 2023");
        assert_eq!(parsed.best.interpretation.metric, Metric::Revenue);
        assert!(parsed.alternatives.iter().any(
            |a| a.interpretation.metric == Metric::Units && a.interpretation.intent == Intent::TopModels
        ));
    }

    #[test]
    fn questions_about_other_things_are_refused_and_say_why() {
        for question in [
            "how many people live in germany",
            "what is the bmw share price",
            "what's the stock price of bmw today",
            "how many sales reps do we have in france",
            "translate hello into german",
            "write a poem about cars",
        ] {
            let parsed = ask(question);
            assert_eq!(parsed.best.interpretation.intent, Intent::Unknown, "{question}");
            assert!(parsed.best.confidence < 0.3, "{question}: {}", parsed.best.confidence);
            assert!(
                parsed.notes.iter().any(|n| n.contains("not look like a question about car sales")),
                "{question}"
            );
        }
        // "how many" alone does not make a question about sales, nor does a country.
        assert!(ask("how many holidays does france have").notes.iter().any(|n| n.contains("\"holidays\"")));
    }

    #[test]
    fn names_without_an_intent_are_kept_as_the_likeliest_reading() {
        let parsed = ask("japan 2022");
        let reading = &parsed.best.interpretation;
        assert_eq!((reading.intent, reading.countries.clone()), (Intent::Total, vec!["JP".to_string()]));
        assert!((0.5..=0.65).contains(&parsed.best.confidence), "{}", parsed.best.confidence);
        assert!(parsed.notes.iter().any(|n| n.contains("no intent stated")), "{:?}", parsed.notes);
        let two = ask("X1 and X2 in Spain last year");
        assert_eq!(two.best.interpretation.intent, Intent::Compare);
        // Leftover words that explain nothing make it no question about sales.
        assert_eq!(ask("what is the capital of France").best.interpretation.intent, Intent::Unknown);
    }

    #[test]
    fn mistyped_cue_words_are_read_and_noted() {
        let parsed = ask("top 5 modles in germany last year");
        assert_eq!(parsed.best.interpretation.intent, Intent::TopModels);
        assert!(parsed.notes.iter().any(|n| n == "read \"modles\" as \"models\""), "{:?}", parsed.notes);
        assert!(parsed.best.confidence < ask("top 5 models in germany last year").best.confidence);
        // An everyday word one slip from a cue is left alone.
        assert_eq!(
            ask("how do the uk and germany stack up for the 1 series").best.interpretation.intent,
            Intent::Compare
        );
    }

    #[test]
    fn codes_in_lowercase_count_where_they_cannot_be_words() {
        assert_eq!(ask("x3 sales in de in 2023").best.interpretation.countries, ["DE"]);
        assert_eq!(ask("what sold best in it last quarter").best.interpretation.countries, ["IT"]);
        assert!(ask("is it falling in germany").best.interpretation.countries == ["DE"]);
        assert_eq!(ask("show us the top models in france").best.interpretation.countries, ["FR"]);
        // In capitals throughout, "IN" is a word, not India.
        assert_eq!(ask("TOP 5 MODELS IN SPAIN LAST YEAR").best.interpretation.countries, ["ES"]);
        assert_eq!(ask("how many x5s in the us").best.interpretation.models, ["X5"]);
    }

    #[test]
    fn average_price_month_on_month_and_fuel_comparisons() {
        let price = ask("avg price of the x5 in the us in 2023").best.interpretation;
        assert_eq!((price.intent, price.metric), (Intent::AveragePrice, Metric::Units));
        let month_on_month = ask("month on month x3 sales in germany in 2023").best.interpretation;
        assert_eq!(month_on_month.intent, Intent::Trend);
        assert_eq!(month_on_month.compare, Some(Comparison::PreviousPeriod));
        assert_eq!(month_on_month.granularity, Some(Granularity::Month));
        let fuels = ask("how does diesel compare with petrol in italy").best.interpretation;
        assert_eq!(fuels.intent, Intent::Compare);
        assert_eq!(fuels.fuel_types, [FuelType::Diesel, FuelType::Petrol]);
        let weekly = ask("weekly sales of the x3");
        assert_eq!(weekly.best.interpretation.granularity, Some(Granularity::Month));
        assert!(weekly.notes.iter().any(|n| n.contains("by month")));
    }

    #[test]
    fn a_comparison_the_answer_cannot_carry_is_said_to_be_left_out() {
        let parsed = ask("what's our ev share in germany vs last year");
        assert_eq!(parsed.best.interpretation.intent, Intent::Share);
        assert!(parsed.notes.iter().any(|n| n.contains("left out")), "{:?}", parsed.notes);
    }

    #[test]
    fn hostile_input_gets_a_low_confidence_not_a_panic() {
        for question in [
            "'; DROP TABLE sale; --",
            "{ sales(first: 1000) { edges { node { revenue } } } }",
            "\u{0}\u{1b}[31m\u{7}",
            "😀🚗🔥",
            "",
            "   ",
            "<script>alert(1)</script>",
        ] {
            let parsed = ask(question);
            assert_eq!(parsed.best.interpretation.intent, Intent::Unknown, "{question:?}");
            assert!(parsed.best.confidence < 0.5, "{question:?}");
        }
        let long = "top models in Germany ".repeat(500);
        assert!(long.len() > 10_000);
        let parsed = ask(&long);
        assert!((0.0..=1.0).contains(&parsed.best.confidence));
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn any_text_parses_to_a_bounded_confidence(question in any::<String>()) {
            let parsed = ask(&question);
            prop_assert!((0.0..=1.0).contains(&parsed.best.confidence));
            if parsed.best.interpretation.intent == Intent::Unknown {
                prop_assert!(parsed.best.confidence < 0.5);
            }
            for alternative in &parsed.alternatives {
                prop_assert!(alternative.confidence <= parsed.best.confidence);
            }
        }

        #[test]
        fn sales_words_in_any_order_never_panic(
            words in prop::collection::vec(prop::sample::select(vec![
                "top", "5", "models", "in", "Germany", "last", "quarter", "since", "2021", "q2", "between",
                "and", "from", "to", "march", "compare", "X5", "vs", "forecast", "next", "stock", "U.S.",
                "first", "half", "of", "h1", "revenue", "least", "which", "model", "Model", "T", "Atlantis",
            ]), 0..25)
        ) {
            let parsed = ask(&words.join(" "));
            prop_assert!((0.0..=1.0).contains(&parsed.best.confidence));
            if let (Some(from), Some(to)) = (parsed.best.interpretation.from, parsed.best.interpretation.to) {
                prop_assert!(from <= to);
            }
        }
    }
}
