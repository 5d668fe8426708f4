use std::fmt;
use std::str::FromStr;

/// A value that is not one of an enumeration's names; it says which enumeration and which value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} \"{value}\" (expected one of {expected})")]
pub struct ParseEnumError {
    pub kind: &'static str,
    pub value: String,
    pub expected: String,
}

macro_rules! dimension_enum {
    ($(#[$meta:meta])* $name:ident, $kind:literal, [$($variant:ident => $text:literal),+ $(,)?]) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// Position in [`Self::ALL`]: a compact code for columns and grouping keys.
            pub const fn code(self) -> u8 {
                self as u8
            }

            /// The value with code `code`, if any.
            pub fn from_code(code: u32) -> Option<Self> {
                $name::ALL.get(code as usize).copied()
            }

            /// The stored and displayed name (upper case, as the GraphQL enum spells it).
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = ParseEnumError;

            /// Case-insensitive, ignoring surrounding spaces: "Petrol" and " PETROL " both match.
            fn from_str(value: &str) -> Result<Self, Self::Err> {
                let trimmed = value.trim();
                $name::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str().eq_ignore_ascii_case(trimmed))
                    .ok_or_else(|| ParseEnumError {
                        kind: $kind,
                        value: value.to_string(),
                        expected: $name::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", "),
                    })
            }
        }
    };
}

dimension_enum!(
    /// A car's body style.
    BodyType, "body type", [
    Sedan => "SEDAN",
    Hatchback => "HATCHBACK",
    Coupe => "COUPE",
    Roadster => "ROADSTER",
    Suv => "SUV",
    Unknown => "UNKNOWN",
]);

dimension_enum!(
    /// What a sold car runs on; UNKNOWN for imported rows that did not say.
    FuelType, "fuel type", [
    Petrol => "PETROL",
    Diesel => "DIESEL",
    Hybrid => "HYBRID",
    Electric => "ELECTRIC",
    Unknown => "UNKNOWN",
]);

dimension_enum!(
    /// A sold car's gearbox; UNKNOWN for imported rows that did not say.
    Transmission, "transmission", [
    Automatic => "AUTOMATIC",
    Manual => "MANUAL",
    Unknown => "UNKNOWN",
]);

dimension_enum!(
    /// How precise a row's source date was: a day, or only a month, a quarter or a year.
    /// Ordered finest first.
    DatePrecision, "date precision", [
    Day => "DAY",
    Month => "MONTH",
    Quarter => "QUARTER",
    Year => "YEAR",
]);

impl DatePrecision {
    /// The months a date of this precision stands for: a row dated by quarter lands on the
    /// quarter's first day but may have been sold in any of its three months.
    pub const fn months(self) -> u32 {
        match self {
            DatePrecision::Day | DatePrecision::Month => 1,
            DatePrecision::Quarter => 3,
            DatePrecision::Year => 12,
        }
    }

    /// The period a date of this precision names, as people write it (2024, 2024-Q2, 2024-05).
    pub fn label(self, date: chrono::NaiveDate) -> String {
        use chrono::Datelike;
        match self {
            DatePrecision::Year => date.year().to_string(),
            DatePrecision::Quarter => format!("{}-Q{}", date.year(), date.month0() / 3 + 1),
            DatePrecision::Month => date.format("%Y-%m").to_string(),
            DatePrecision::Day => date.format("%Y-%m-%d").to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_regardless_of_case_and_spaces() {
        assert_eq!("Petrol".parse::<FuelType>(), Ok(FuelType::Petrol));
        assert_eq!(" suv ".parse::<BodyType>(), Ok(BodyType::Suv));
        assert_eq!("MANUAL".parse::<Transmission>(), Ok(Transmission::Manual));
    }

    #[test]
    fn unknown_value_names_itself_and_the_choices() {
        let error = "steam".parse::<FuelType>().unwrap_err();
        let text = error.to_string();
        assert!(
            text.contains("fuel type") && text.contains("\"steam\"") && text.contains("ELECTRIC"),
            "{text}"
        );
    }
}
