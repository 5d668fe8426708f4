//! What the words of a question can name: models, countries and regions from the catalogue (so
//! imported names work too), their common aliases, and near misses by edit distance.

use std::collections::HashMap;

pub use crate::domain::country_names::fold;
use crate::domain::country_names::{self, ALPHA3};
use crate::store::catalogue::Catalogue;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Entity {
    /// Canonical model name ("3 Series").
    Model(String),
    /// ISO 3166-1 alpha-2 code.
    Country(String),
    /// Region name as the catalogue spells it.
    Region(String),
    /// Several regions under one common name ("APAC": Asia and Oceania).
    Regions(Vec<String>),
}

/// Common names of several regions together, used when the catalogue has every one of them.
const REGION_GROUPS: &[(&str, &[&str])] = &[
    ("apac", &["Asia", "Oceania"]),
    ("asiapacific", &["Asia", "Oceania"]),
    ("emea", &["Europe", "Middle East", "Africa"]),
    ("americas", &["North America", "South America"]),
    ("theamericas", &["North America", "South America"]),
    ("latam", &["South America"]),
    ("latinamerica", &["South America"]),
    ("mena", &["Middle East"]),
];

/// What people call a market in a question beyond its names ([`country_names::OTHER_NAMES`]):
/// demonyms ("German sales") and short forms people type (docs/ask.md, "Names").
const COUNTRY_ALIASES: &[(&str, &str)] = &[
    ("thestates", "US"),
    ("swiss", "CH"),
    // What a market's sales are called: "Dutch sales", "the French market".
    ("german", "DE"),
    ("british", "GB"),
    ("french", "FR"),
    ("italian", "IT"),
    ("spanish", "ES"),
    ("dutch", "NL"),
    ("belgian", "BE"),
    ("austrian", "AT"),
    ("swedish", "SE"),
    ("norwegian", "NO"),
    ("polish", "PL"),
    ("portuguese", "PT"),
    ("danish", "DK"),
    ("american", "US"),
    ("canadian", "CA"),
    ("mexican", "MX"),
    ("chinese", "CN"),
    ("japanese", "JP"),
    ("korean", "KR"),
    ("indian", "IN"),
    ("taiwanese", "TW"),
    ("thai", "TH"),
    ("emirati", "AE"),
    ("saudi", "SA"),
    ("brazilian", "BR"),
    ("argentinian", "AR"),
    ("argentine", "AR"),
    ("australian", "AU"),
    // Short names people type.
    ("ger", "DE"),
];

/// Two-letter codes that are also English words: in lowercase they name the country only
/// right after a word that introduces a place ("sales in it", "at and ch"), and "us" only
/// where it is not an object ("show us", "tell us"). "in" is never India in lowercase.
const CODES_THAT_ARE_WORDS: &[&str] = &[
    "it", "no", "at", "be", "us", "am", "as", "by", "do", "go", "he", "hi", "if", "is", "me", "my", "of",
    "on", "or", "so", "to", "up", "we",
];
/// Alpha-3 codes that are English words: read only in capitals ("nor" is read by the parser,
/// which sees whether "neither" comes before it).
const ALPHA3_THAT_ARE_WORDS: &[&str] = &["can", "are", "nor", "col", "fin", "per", "sat", "mys"];
const BEFORE_A_PLACE: &[&str] =
    &["in", "for", "from", "vs", "versus", "and", "against", "than", "across", "or"];
const BEFORE_US_AS_OBJECT: &[&str] = &[
    "show", "tell", "give", "let", "help", "send", "email", "get", "gets", "for", "to", "with", "cost",
    "costs", "sell",
];

#[derive(Debug, Default)]
pub struct Lexicon {
    by_key: HashMap<String, Entity>,
    /// ISO codes (alpha-2 and alpha-3), matched as written in capitals ("US", "DEU"); in
    /// lowercase only through [`Lexicon::lowercase_code`].
    by_code: HashMap<String, Entity>,
    /// Names long enough to match with a typo (folded), and whether the name has several words.
    fuzzy: Vec<(String, Entity, bool)>,
    /// Most words in any key's source name ("united arab emirates": 3).
    pub max_words: usize,
}

impl Lexicon {
    pub fn new(catalogue: &Catalogue) -> Self {
        let mut lexicon = Lexicon { max_words: 3, ..Self::default() };
        let add = |lexicon: &mut Lexicon, name: &str, entity: Entity| {
            lexicon.max_words = lexicon.max_words.max(name.split_whitespace().count());
            let key = fold(name);
            if !key.is_empty() {
                lexicon.by_key.entry(key).or_insert(entity);
            }
        };
        for model in &catalogue.models {
            let entity = Entity::Model(model.name.clone());
            add(&mut lexicon, &model.name, entity.clone());
            // "3 Series" is also "3er" and "3-series".
            // "3 Series" is also "series 3".
            if let Some(number) = model.name.strip_suffix(" Series") {
                add(&mut lexicon, &format!("{number}er"), entity.clone());
                add(&mut lexicon, &format!("series {number}"), entity.clone());
            }
            let key = fold(&model.name);
            if key.len() >= 6 {
                lexicon.fuzzy.push((key, entity, model.name.contains(' ')));
            }
        }
        for country in &catalogue.countries {
            let entity = Entity::Country(country.code.clone());
            add(&mut lexicon, &country.name, entity.clone());
            lexicon.by_code.insert(country.code.to_uppercase(), entity.clone());
            let key = fold(&country.name);
            if key.len() >= 5 {
                lexicon.fuzzy.push((key, entity, country.name.contains(' ')));
            }
        }
        for (alias, code) in country_names::OTHER_NAMES.iter().chain(COUNTRY_ALIASES) {
            if catalogue.country(code).is_some() {
                add(&mut lexicon, alias, Entity::Country((*code).to_string()));
                let key = fold(alias);
                // Names in their own language are mistyped too ("osterriech").
                if key.len() >= 5 && !lexicon.fuzzy.iter().any(|(k, _, _)| *k == key) {
                    lexicon.fuzzy.push((key, Entity::Country((*code).to_string()), false));
                }
            }
        }
        for (alpha3, code) in ALPHA3 {
            if catalogue.country(code).is_some() {
                lexicon.by_code.insert((*alpha3).to_string(), Entity::Country((*code).to_string()));
            }
        }
        if catalogue.country("GB").is_some() {
            lexicon.by_code.insert("UK".into(), Entity::Country("GB".into()));
        }
        for region in catalogue.regions() {
            let entity = Entity::Region(region.clone());
            add(&mut lexicon, &region, entity.clone());
            // "European", "Asian" markets.
            let adjective = match region.chars().last() {
                Some('a') => Some(format!("{region}n")),
                Some('e') => Some(format!("{region}an")),
                _ => None,
            };
            if let Some(adjective) = adjective.filter(|_| !region.contains(' ')) {
                add(&mut lexicon, &adjective, entity.clone());
            }
            let key = fold(&region);
            if key.len() >= 5 {
                lexicon.fuzzy.push((key, entity.clone(), region.contains(' ')));
            }
        }
        let regions = catalogue.regions();
        for (name, group) in REGION_GROUPS {
            if group.iter().all(|r| regions.iter().any(|known| known == r)) {
                let entity = match group {
                    [one] => Entity::Region((*one).to_string()),
                    several => Entity::Regions(several.iter().map(|r| (*r).to_string()).collect()),
                };
                add(&mut lexicon, name, entity);
            }
        }
        // "EU" for Europe, where the catalogue has the region.
        if let Some(europe) = catalogue.regions().into_iter().find(|r| r == "Europe") {
            add(&mut lexicon, "eu", Entity::Region(europe));
        }
        lexicon
    }

    /// The country of a code written in lowercase ("de", "fr"), where the words around it make
    /// it a place: codes that are English words ("it", "no", "us") need `previous` to
    /// introduce a place, and "in" is never India.
    pub fn lowercase_code(&self, lower: &str, previous: Option<&str>) -> Option<&Entity> {
        if !lower.chars().all(|c| c.is_ascii_lowercase()) {
            return None;
        }
        // Three-letter codes, but not those that are English words ("can", "are").
        if lower.len() == 3 {
            return if ALPHA3_THAT_ARE_WORDS.contains(&lower) {
                None
            } else {
                self.by_code.get(&lower.to_uppercase())
            };
        }
        if lower.len() != 2 || lower == "in" {
            return None;
        }
        let entity = self.by_code.get(&lower.to_uppercase())?;
        let place_word = previous.is_some_and(|p| BEFORE_A_PLACE.contains(&p));
        let fits = match lower {
            "us" => previous.is_none_or(|p| !BEFORE_US_AS_OBJECT.contains(&p) || p == "for"),
            word if CODES_THAT_ARE_WORDS.contains(&word) => place_word,
            _ => true,
        };
        fits.then_some(entity)
    }

    /// A model named in the plural ("x5s", "i4s"): the folded word without its final "s".
    pub fn model_plural(&self, key: &str) -> Option<&Entity> {
        let singular = key.strip_suffix('s')?;
        match self.by_key.get(singular) {
            Some(entity @ Entity::Model(_)) if !self.by_key.contains_key(key) => Some(entity),
            _ => None,
        }
    }

    /// The entity named by these folded words joined.
    pub fn exact(&self, key: &str) -> Option<&Entity> {
        self.by_key.get(key)
    }

    /// The entity of an ISO code as written (capitals only).
    pub fn code(&self, original: &str) -> Option<&Entity> {
        if (2..=3).contains(&original.len()) && original.chars().all(|c| c.is_ascii_uppercase()) {
            self.by_code.get(original)
        } else {
            None
        }
    }

    /// The single closest name within a small edit distance (1 for short names, 2 for long
    /// ones; the first letter must agree), or `None` when two names are equally close.
    /// `several_words`: the word is several typed words joined, so only names of several
    /// words are candidates ("unted states").
    pub fn near(&self, word: &str, several_words: bool) -> Option<&Entity> {
        if word.chars().count() < 4 || !word.chars().all(char::is_alphanumeric) {
            return None;
        }
        let mut best: Option<(usize, &Entity)> = None;
        let mut tie = false;
        for (key, entity, multiword) in &self.fuzzy {
            if key.chars().next() != word.chars().next() || (several_words && !multiword) {
                continue;
            }
            // A four-letter word is a five-letter name with a letter left out ("chna").
            if word.chars().count() == 4 && key.chars().count() != 5 {
                continue;
            }
            let allowed = if key.len() >= 8 { 2 } else { 1 };
            // Lengths further apart than the slips allowed cannot be close: most names are
            // ruled out here without the distance's table.
            if key.len().abs_diff(word.len()) > allowed {
                continue;
            }
            let distance = strsim::osa_distance(word, key);
            if distance == 0 || distance > allowed {
                continue;
            }
            match best {
                Some((d, e)) if d == distance && e != entity => tie = true,
                Some((d, _)) if d <= distance => {}
                _ => {
                    best = Some((distance, entity));
                    tie = false;
                }
            }
        }
        if tie { None } else { best.map(|(_, e)| e) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use entity::{car_model, country};

    pub fn catalogue() -> Catalogue {
        let models = ["3 Series", "5 Series", "X5", "iX", "i4"]
            .iter()
            .enumerate()
            .map(|(i, name)| car_model::Model {
                id: i as i32 + 1,
                name: (*name).into(),
                body_type: "SEDAN".into(),
                base_price: None,
                fuels: None,
                launch_year: None,
                end_year: None,
            })
            .collect();
        let countries = [
            ("DE", "Germany", "Europe"),
            ("GB", "United Kingdom", "Europe"),
            ("US", "United States", "North America"),
            ("KR", "South Korea", "Asia"),
        ]
        .iter()
        .map(|(code, name, region)| country::Model {
            code: (*code).into(),
            name: (*name).into(),
            region: (*region).into(),
        })
        .collect();
        Catalogue::new(models, countries)
    }

    #[test]
    fn names_aliases_codes_and_typos() {
        let lexicon = Lexicon::new(&catalogue());
        let country = |c: &str| Some(Entity::Country(c.into()));
        assert_eq!(lexicon.exact("3series").cloned(), Some(Entity::Model("3 Series".into())));
        assert_eq!(lexicon.exact("3er").cloned(), Some(Entity::Model("3 Series".into())));
        assert_eq!(lexicon.exact("unitedkingdom").cloned(), country("GB"));
        assert_eq!(lexicon.exact("britain").cloned(), country("GB"));
        assert_eq!(lexicon.exact("thestates").cloned(), country("US"));
        assert_eq!(lexicon.exact("korea").cloned(), country("KR"));
        assert_eq!(lexicon.exact("holland"), None, "no alias for a country the catalogue lacks");
        assert_eq!(lexicon.exact("european").cloned(), Some(Entity::Region("Europe".into())));
        assert_eq!(lexicon.exact("northamerica").cloned(), Some(Entity::Region("North America".into())));
        assert_eq!(lexicon.code("US").cloned(), country("US"));
        assert_eq!(lexicon.code("UK").cloned(), country("GB"));
        assert_eq!(lexicon.code("us"), None);
        assert_eq!(lexicon.near("germny", false).cloned(), country("DE"));
        assert_eq!(lexicon.near("sales", false), None);
        assert_eq!(lexicon.near("europa", false).cloned(), Some(Entity::Region("Europe".into())));
        assert_eq!(lexicon.near("untedstates", true).cloned(), country("US"));
        assert_eq!(lexicon.near("germny", true), None, "one word is not a name of several");
        assert_eq!(lexicon.exact("series3").cloned(), Some(Entity::Model("3 Series".into())));
        assert_eq!(lexicon.exact(&fold("Österreich")), None, "no alias for a country the catalogue lacks");
        assert_eq!(lexicon.code("USA").cloned(), country("US"));
        assert_eq!(lexicon.code("DEU").cloned(), country("DE"));
    }

    #[test]
    fn lowercase_codes_need_a_place_where_they_are_words() {
        let lexicon = Lexicon::new(&catalogue());
        let country = |c: &str| Some(Entity::Country(c.into()));
        assert_eq!(lexicon.lowercase_code("de", None).cloned(), country("DE"));
        assert_eq!(lexicon.lowercase_code("gb", Some("sales")).cloned(), country("GB"));
        assert_eq!(lexicon.lowercase_code("us", Some("in")).cloned(), country("US"));
        assert_eq!(lexicon.lowercase_code("us", Some("show")), None);
        assert_eq!(lexicon.lowercase_code("us", Some("tell")), None);
        assert_eq!(lexicon.lowercase_code("in", None), None);
        assert_eq!(lexicon.model_plural("x5s").cloned(), Some(Entity::Model("X5".into())));
        assert_eq!(lexicon.model_plural("ix"), None);
        assert_eq!(lexicon.lowercase_code("deu", None).cloned(), country("DE"));
        assert_eq!(lexicon.lowercase_code("can", Some("in")), None, "an English word");
    }
}
