//! `ask`: a question in plain English, parsed (src/ask), then answered by running the
//! structured query it stands for through this same schema, so that the viewer's role, region
//! scope, limits and validation apply exactly as they do to any other query.

use std::sync::Arc;

use async_graphql::{Context, Enum, Object, Result, SimpleObject, Variables};

use super::enums::{BodyType, Comparison, FuelType, Granularity, Metric, SortOrder};
use super::error::ApiError;
use super::one_pass::TextRows;
use super::parsed::ParsedQueries;
use super::scalars::Date;
use super::{AppSchema, access, app};
use crate::ask::parser::Reading;
use crate::ask::query::{NotRunnable, StructuredQuery};
use crate::ask::{self, Answer, MAX_QUESTION_CHARS};
use crate::cache;
use crate::summary::compare;

/// What a question asks for.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "crate::ask::Intent")]
pub enum Intent {
    /// A ranking of models.
    TopModels,
    /// A ranking of markets.
    TopCountries,
    /// One total.
    Total,
    /// A series over time.
    Trend,
    /// Several models or markets side by side.
    Compare,
    /// When sales peak and dip in the year.
    Seasonality,
    /// What will sell in a coming period.
    Forecast,
    /// Which models deserve marketing.
    Marketing,
    /// What a market should stock.
    Inventory,
    /// Models ranked by how much they grew or fell against the period compared with.
    Growth,
    /// What part of the sales a fuel, body type or model makes.
    Share,
    /// Revenue per unit sold.
    AveragePrice,
    /// Not a question about car sales, or one naming something the catalogue lacks.
    Unknown,
}

/// A reading of a question as a structured query.
#[derive(SimpleObject)]
pub struct Interpretation {
    /// What the question asks for.
    pub intent: Intent,
    /// Canonical model names.
    pub models: Vec<String>,
    /// ISO 3166-1 alpha-2 codes.
    pub countries: Vec<String>,
    /// Region names, as the catalogue spells them (not expanded into countries).
    pub regions: Vec<String>,
    /// Body styles named.
    pub body_types: Vec<BodyType>,
    /// Fuel types named.
    pub fuel_types: Vec<FuelType>,
    /// First day of the period; null when the question names none.
    pub from: Option<Date>,
    /// Last day of the period (inclusive); null when the question names none.
    pub to: Option<Date>,
    /// How many rows the answer ranks, where the intent ranks.
    pub limit: Option<i32>,
    /// UNITS, or REVENUE when the question asks about money.
    pub metric: Metric,
    /// DESC, or ASC for "least", "worst", "bottom".
    pub order: SortOrder,
    /// The period length of a TREND (MONTH unless the question says otherwise).
    pub granularity: Option<Granularity>,
    /// What the period is compared with ("against last year"): PREVIOUS_YEAR or
    /// PREVIOUS_PERIOD; null when it is compared with a range of its own (`comparedFrom` to
    /// `comparedTo`) or with nothing.
    pub compare_to: Option<Comparison>,
    /// First day of the range the period is compared with, when the question names one.
    pub compared_from: Option<Date>,
    /// Last day of the range the period is compared with, when the question names one.
    pub compared_to: Option<Date>,
    /// How sure the parser is of this reading, 0 to 1.
    pub confidence: f64,
}

impl From<&Reading> for Interpretation {
    fn from(reading: &Reading) -> Self {
        let i = &reading.interpretation;
        Self {
            intent: i.intent.into(),
            models: i.models.clone(),
            countries: i.countries.clone(),
            regions: i.regions.clone(),
            body_types: i.body_types.iter().map(|b| (*b).into()).collect(),
            fuel_types: i.fuel_types.iter().map(|f| (*f).into()).collect(),
            from: i.from.map(Date),
            to: i.to.map(Date),
            limit: i.limit.map(|l| l as i32),
            metric: i.metric.into(),
            order: i.order.into(),
            granularity: i.granularity.map(Into::into),
            compare_to: match i.compare {
                Some(compare::Comparison::PreviousYear) => Some(Comparison::PreviousYear),
                Some(compare::Comparison::PreviousPeriod) => Some(Comparison::PreviousPeriod),
                _ => None,
            },
            compared_from: match i.compare {
                Some(compare::Comparison::Range(from, _)) => Some(Date(from)),
                _ => None,
            },
            compared_to: match i.compare {
                Some(compare::Comparison::Range(_, to)) => Some(Date(to)),
                _ => None,
            },
            confidence: reading.confidence,
        }
    }
}

/// An answer to a plain-English question.
#[derive(SimpleObject)]
pub struct AskAnswer {
    /// The question as asked.
    pub question: String,
    /// The best reading of the question.
    pub interpretation: Interpretation,
    /// How sure the parser is of the interpretation, 0 to 1; below 0.5 nothing is answered.
    pub confidence: f64,
    /// The next-best readings, most likely first.
    pub alternatives: Vec<Interpretation>,
    /// What could not be placed, what was guessed, and why rows are missing.
    pub notes: Vec<String>,
    /// True when the answer came from the cache.
    pub cached: bool,
    /// Names of the answer's columns.
    pub columns: Vec<String>,
    /// The answer: one list of cells per row, as text (numbers as JSON writes them); null where there is no value.
    pub rows: TextRows,
}

fn answer_of(question: String, answer: &Answer, cached: bool) -> AskAnswer {
    AskAnswer {
        question,
        interpretation: (&answer.parsed.best).into(),
        confidence: answer.parsed.best.confidence,
        alternatives: answer.parsed.alternatives.iter().map(Into::into).collect(),
        notes: answer.notes.clone(),
        cached,
        columns: answer.columns.clone(),
        rows: TextRows(answer.rows.clone()),
    }
}

/// White space collapsed: the same question typed twice is one cache entry.
fn normalize(question: &str) -> String {
    question.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[derive(Default)]
pub struct AskQuery;

#[Object]
impl AskQuery {
    /// A question in plain English ("top 5 models in Germany last quarter"), answered as the
    /// equivalent structured query, with the interpretation, a confidence and alternatives.
    /// `asOf` anchors relative periods ("last quarter"); default: today.
    async fn ask(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The question, up to 500 characters.")] question: String,
        #[graphql(desc = "The day relative periods count from; default: today.")] as_of: Option<Date>,
        #[graphql(
            desc = "Answer this alternative reading instead of the best one (1 = the first of `alternatives`), for a user who picked it."
        )]
        alternative: Option<i32>,
    ) -> Result<AskAnswer> {
        let app = app(ctx)?;
        let access = access(ctx)?;
        let length = question.chars().count();
        if length > MAX_QUESTION_CHARS {
            return Err(ApiError::BadUserInput(format!(
                "the question is {length} characters long: at most {MAX_QUESTION_CHARS} are read"
            ))
            .into());
        }
        let normalized = normalize(&question);
        if normalized.is_empty() {
            return Err(ApiError::BadUserInput("the question is empty".into()).into());
        }
        let as_of = as_of.map_or_else(|| chrono::Utc::now().date_naive(), |d| d.0);
        let snapshot = app.snapshot();
        let chosen = alternative.map(|n| n.to_string()).unwrap_or_default();
        let answer_key = cache::key(
            snapshot.version,
            &access.scope_key(),
            Some("ask"),
            &format!("{as_of}/{chosen}"),
            &normalized,
        );
        if let Some(hit) = app.ask_cache.answer(&answer_key).await {
            return Ok(answer_of(question, &hit, true));
        }
        let parse_key = cache::key(snapshot.version, "", Some("ask-parse"), &as_of.to_string(), &normalized);
        let lexicon = snapshot.lexicon.clone();
        let mut parsed = app.ask_cache.parse(parse_key, || ask::parse(&normalized, as_of, &lexicon)).await;
        if let Some(n) = alternative {
            let count = parsed.alternatives.len();
            let chosen =
                usize::try_from(n).ok().and_then(|n| n.checked_sub(1)).and_then(|i| parsed.choosing(i));
            parsed = Arc::new(chosen.ok_or_else(|| {
                ApiError::BadUserInput(format!(
                    "alternative {n} does not exist: the question has {count} alternative reading(s), numbered from 1"
                ))
            })?);
        }
        let mut notes = parsed.notes.clone();
        let query = match StructuredQuery::of(&parsed.best.interpretation) {
            Ok(query) => query,
            Err(NotRunnable(why)) => {
                notes.push(why);
                None
            }
        };
        let Some(query) = query else {
            let answer = Answer { parsed, notes, columns: Vec::new(), rows: Vec::new() };
            return Ok(answer_of(question, &answer, false));
        };
        let schema = ctx.data::<AppSchema>()?;
        let mut request = async_graphql::Request::new(query.document.clone())
            .variables(Variables::from_json(query.variables.clone()));
        // The documents `ask` writes are a few dozen fixed shapes (the question's values travel
        // as variables): each is parsed once, which costs more than the rest of the inner
        // query's setup. A text that does not parse goes to the schema, which names the error.
        if let Some(parsed) = ctx
            .data_opt::<ParsedQueries>()
            .and_then(|documents| documents.get(&query.document, usize::MAX).ok())
        {
            request.set_parsed_query(parsed.document.clone());
        }
        let request = super::request_data(request, app, access.clone())
            .data(schema.clone())
            .data(super::operation_rules::GeneratedByAsk);
        let response = Box::pin(schema.execute(request)).await;
        if let Some(error) = response.errors.first() {
            let code = super::error::code_of(error).unwrap_or_default();
            if code == "FORBIDDEN" {
                // The reading stays visible (with its units alternative) but no rows: the
                // error says why.
                notes.push(error.message.clone());
                let answer = Answer { parsed, notes, columns: query.columns.clone(), rows: Vec::new() };
                let forbidden: async_graphql::Error = ApiError::Forbidden(error.message.clone()).into();
                ctx.add_error(ctx.set_error_path(forbidden.into_server_error(ctx.item.pos)));
                return Ok(answer_of(question, &answer, false));
            }
            if code == "BAD_USER_INPUT" {
                // The question was read; the data cannot answer it (too short, dated too
                // coarsely …): the reading stays, and the notes say why there are no rows.
                notes.push(error.message.clone());
                let answer = Answer { parsed, notes, columns: query.columns.clone(), rows: Vec::new() };
                return Ok(answer_of(question, &answer, false));
            }
            return Err(ApiError::internal(format!("ask ran {:?}: {}", query.document, error.message)).into());
        }
        let data = response.data.into_json().map_err(ApiError::internal)?;
        notes.extend(query.notes(&data));
        let answer =
            Arc::new(Answer { parsed, notes, columns: query.columns.clone(), rows: query.rows(&data) });
        app.ask_cache.keep_answer(answer_key, answer.clone()).await;
        Ok(answer_of(question, &answer, false))
    }
}
