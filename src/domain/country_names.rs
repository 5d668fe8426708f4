//! Names of countries beyond the catalogue's English name: ISO alpha-3 codes, common short
//! names, and names in the market's own language. An import's country column and a question's
//! words are read with the same list.

/// Folds a name for lookup: lowercase, without accents, spaces, hyphens, dots or apostrophes
/// ("Österreich", "osterreich" and "ÖSTERREICH" are one key).
pub fn fold(text: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    text.nfd()
        .filter(|c| c.is_alphanumeric() && !unicode_normalization::char::is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect()
}

/// Other names of countries, folded ([`fold`]), with the ISO 3166-1 alpha-2 code they name.
pub const OTHER_NAMES: &[(&str, &str)] = &[
    ("uk", "GB"),
    ("britain", "GB"),
    ("greatbritain", "GB"),
    ("england", "GB"),
    ("usa", "US"),
    ("america", "US"),
    ("unitedstatesofamerica", "US"),
    ("deutschland", "DE"),
    ("holland", "NL"),
    ("uae", "AE"),
    ("emirates", "AE"),
    ("korea", "KR"),
    ("southkorea", "KR"),
    ("ksa", "SA"),
    ("saudiarabia", "SA"),
    // Countries in their own languages (accents are folded away: "österreich", "españa").
    ("espana", "ES"),
    ("italia", "IT"),
    ("osterreich", "AT"),
    ("oesterreich", "AT"),
    ("schweiz", "CH"),
    ("suisse", "CH"),
    ("svizzera", "CH"),
    ("sverige", "SE"),
    ("norge", "NO"),
    ("nederland", "NL"),
    ("polska", "PL"),
    ("danmark", "DK"),
    ("brasil", "BR"),
    ("nippon", "JP"),
    ("nihon", "JP"),
    ("frankreich", "FR"),
    ("allemagne", "DE"),
    ("belgique", "BE"),
    ("belgie", "BE"),
    ("zhongguo", "CN"),
    ("bharat", "IN"),
    ("aotearoa", "NZ"),
];

/// ISO 3166-1 alpha-3 codes of the alpha-2 codes, for countries the catalogue has.
pub const ALPHA3: &[(&str, &str)] = &[
    ("DEU", "DE"),
    ("GBR", "GB"),
    ("FRA", "FR"),
    ("ITA", "IT"),
    ("ESP", "ES"),
    ("NLD", "NL"),
    ("BEL", "BE"),
    ("CHE", "CH"),
    ("AUT", "AT"),
    ("SWE", "SE"),
    ("NOR", "NO"),
    ("POL", "PL"),
    ("PRT", "PT"),
    ("DNK", "DK"),
    ("USA", "US"),
    ("CAN", "CA"),
    ("MEX", "MX"),
    ("CHN", "CN"),
    ("JPN", "JP"),
    ("KOR", "KR"),
    ("IND", "IN"),
    ("TWN", "TW"),
    ("THA", "TH"),
    ("ARE", "AE"),
    ("SAU", "SA"),
    ("BRA", "BR"),
    ("ARG", "AR"),
    ("ZAF", "ZA"),
    ("AUS", "AU"),
    ("NZL", "NZ"),
    ("FIN", "FI"),
    ("IRL", "IE"),
    ("CZE", "CZ"),
    ("HUN", "HU"),
    ("GRC", "GR"),
    ("TUR", "TR"),
    ("RUS", "RU"),
    ("SGP", "SG"),
    ("MYS", "MY"),
    ("IDN", "ID"),
    ("ISR", "IL"),
    ("EGY", "EG"),
    ("CHL", "CL"),
    ("COL", "CO"),
];

/// The alpha-2 code `name` stands for when it is an alpha-3 code or one of [`OTHER_NAMES`]
/// (whether the catalogue has that market is the caller's question).
pub fn code_of(name: &str) -> Option<&'static str> {
    let trimmed = name.trim();
    if trimmed.len() == 3 && trimmed.chars().all(|c| c.is_ascii_alphabetic()) {
        let upper = trimmed.to_ascii_uppercase();
        if let Some((_, code)) = ALPHA3.iter().find(|(alpha3, _)| *alpha3 == upper) {
            return Some(code);
        }
    }
    let folded = fold(trimmed);
    OTHER_NAMES.iter().find(|(other, _)| *other == folded).map(|(_, code)| *code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_in_any_case_accent_or_spelling_find_their_code() {
        assert_eq!(code_of("Deutschland"), Some("DE"));
        assert_eq!(code_of("ÖSTERREICH"), Some("AT"));
        assert_eq!(code_of("España"), Some("ES"));
        assert_eq!(code_of(" deu "), Some("DE"));
        assert_eq!(code_of("U.S.A."), Some("US"));
        assert_eq!(code_of("United Kingdom"), None, "English names are the catalogue's");
        assert_eq!(code_of("Atlantis"), None);
    }

    #[test]
    fn folded_names_are_stored_folded() {
        for (name, code) in OTHER_NAMES {
            assert_eq!(fold(name), *name, "{name}");
            assert!(code.len() == 2 && code.chars().all(|c| c.is_ascii_uppercase()), "{code}");
        }
    }
}
