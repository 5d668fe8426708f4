//! What the words of a question can name: models, countries and regions from the catalogue (so
//! imported names work too), their common aliases, and near misses by edit distance.

use std::collections::HashMap;

use crate::store::catalogue::Catalogue;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Entity {
    /// Canonical model name ("3 Series").
    Model(String),
    /// ISO 3166-1 alpha-2 code.
    Country(String),
    /// Region name as the catalogue spells it.
    Region(String),
}

/// Aliases of nlp.md ("Entities"), used when the catalogue has the country.
const COUNTRY_ALIASES: &[(&str, &str)] = &[
    ("uk", "GB"),
    ("britain", "GB"),
    ("greatbritain", "GB"),
    ("england", "GB"),
    ("usa", "US"),
    ("thestates", "US"),
    ("america", "US"),
    ("unitedstatesofamerica", "US"),
    ("deutschland", "DE"),
    ("holland", "NL"),
    ("uae", "AE"),
    ("emirates", "AE"),
    ("korea", "KR"),
    ("southkorea", "KR"),
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
];

/// Folds words for lookup: lowercase, without spaces, hyphens, dots or apostrophes.
pub fn fold(text: &str) -> String {
    text.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect()
}

#[derive(Debug, Default)]
pub struct Lexicon {
    by_key: HashMap<String, Entity>,
    /// ISO codes, matched only when written in capitals ("US", not "us").
    by_code: HashMap<String, Entity>,
    /// Names long enough to match with a typo, and the most edits tolerated.
    fuzzy: Vec<(String, Entity)>,
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
            if let Some(number) = model.name.strip_suffix(" Series") {
                add(&mut lexicon, &format!("{number}er"), entity.clone());
            }
            let key = fold(&model.name);
            if key.len() >= 6 {
                lexicon.fuzzy.push((key, entity));
            }
        }
        for country in &catalogue.countries {
            let entity = Entity::Country(country.code.clone());
            add(&mut lexicon, &country.name, entity.clone());
            lexicon.by_code.insert(country.code.to_uppercase(), entity.clone());
            let key = fold(&country.name);
            if key.len() >= 5 {
                lexicon.fuzzy.push((key, entity));
            }
        }
        for (alias, code) in COUNTRY_ALIASES {
            if catalogue.country(code).is_some() {
                add(&mut lexicon, alias, Entity::Country((*code).to_string()));
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
                lexicon.fuzzy.push((key, entity));
            }
        }
        lexicon
    }

    /// The entity named by these folded words joined.
    pub fn exact(&self, key: &str) -> Option<&Entity> {
        self.by_key.get(key)
    }

    /// The entity of an ISO code as written (capitals only).
    pub fn code(&self, original: &str) -> Option<&Entity> {
        if original.len() == 2 && original.chars().all(|c| c.is_ascii_uppercase()) {
            self.by_code.get(original)
        } else {
            None
        }
    }

    /// The single closest name within a small edit distance (1 for short names, 2 for long
    /// ones; the first letter must agree), or `None` when two names are equally close.
    pub fn near(&self, word: &str) -> Option<&Entity> {
        if word.chars().count() < 5 || !word.chars().all(char::is_alphanumeric) {
            return None;
        }
        let mut best: Option<(usize, &Entity)> = None;
        let mut tie = false;
        for (key, entity) in &self.fuzzy {
            if key.chars().next() != word.chars().next() {
                continue;
            }
            let allowed = if key.len() >= 8 { 2 } else { 1 };
            let distance = strsim::damerau_levenshtein(word, key);
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
        assert_eq!(lexicon.near("germny").cloned(), country("DE"));
        assert_eq!(lexicon.near("sales"), None);
        assert_eq!(lexicon.near("europa").cloned(), Some(Entity::Region("Europe".into())));
    }
}
