//! Trend of a series: a Theil–Sen slope (the median of pairwise slopes, so one-off dips such as
//! April 2020 cannot drag it) over the trailing one-year means, in which seasonality cancels and
//! sparse, lumpy months average out; a series shorter than two years uses pairs of points a
//! whole year apart instead. Partial periods are marked and left out of every comparison.

use super::{mean, median};
use crate::domain::relative_change;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Up,
    Down,
    Flat,
}

/// Below this yearly change relative to the mean level a series counts as flat.
pub const FLAT_BAND_PER_YEAR: f64 = 0.02;

#[derive(Debug, Clone, PartialEq)]
pub struct TrendPoint {
    pub value: f64,
    /// Trailing mean over a year of periods (two for yearly series); `None` until enough history.
    pub moving_average: Option<f64>,
    /// Change against the same period a year before; `None` without a complete comparable one.
    pub year_over_year: Option<f64>,
    pub partial: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TrendAnalysis {
    pub points: Vec<TrendPoint>,
    pub direction: Direction,
    pub slope_per_period: f64,
    /// The last complete year of periods against the year before it.
    pub year_over_year: Option<f64>,
}

/// `values` are consecutive periods; `periods_per_year` is 12, 4 or 1; `partial[i]` marks
/// periods the data does not cover completely.
pub fn analyze(values: &[f64], partial: &[bool], periods_per_year: usize) -> TrendAnalysis {
    let p = periods_per_year.max(1);
    let is_partial = |i: usize| partial.get(i).copied().unwrap_or(false);
    let window = p.max(2);
    let points: Vec<TrendPoint> = values
        .iter()
        .enumerate()
        .map(|(i, &value)| {
            let moving_average = (i + 1 >= window && (i + 1 - window..=i).all(|j| !is_partial(j)))
                .then(|| mean(&values[i + 1 - window..=i]));
            let year_over_year = (i >= p && !is_partial(i) && !is_partial(i - p))
                .then(|| relative_change(value, values[i - p]))
                .flatten();
            TrendPoint { value, moving_average, year_over_year, partial: is_partial(i) }
        })
        .collect();

    let complete: Vec<(usize, f64)> =
        values.iter().copied().enumerate().filter(|(i, _)| !is_partial(*i)).collect();
    // Trailing one-year means over complete periods only.
    let yearly_means: Vec<(usize, f64)> = (p.saturating_sub(1)..values.len())
        .filter(|&i| p > 1 && (i + 1 - p..=i).all(|j| !is_partial(j)))
        .map(|i| (i, mean(&values[i + 1 - p..=i])))
        .collect();
    let (pairs, step) = if yearly_means.len() > p {
        (yearly_means, 1)
    } else {
        let span = complete.last().map_or(0, |l| l.0) - complete.first().map_or(0, |f| f.0);
        // Pairs a whole number of years apart when the series spans a year; otherwise all pairs.
        (complete.clone(), if span >= p { p } else { 1 })
    };
    let mut slopes = Vec::new();
    for (a, &(i, yi)) in pairs.iter().enumerate() {
        for &(j, yj) in &pairs[a + 1..] {
            if (j - i) % step == 0 {
                slopes.push((yj - yi) / (j - i) as f64);
            }
        }
    }
    let slope = median(&mut slopes).unwrap_or(0.0);
    let level = mean(&complete.iter().map(|(_, v)| *v).collect::<Vec<_>>());
    let yearly_change = if level > 0.0 { slope * p as f64 / level } else { 0.0 };
    let direction = if yearly_change > FLAT_BAND_PER_YEAR {
        Direction::Up
    } else if yearly_change < -FLAT_BAND_PER_YEAR {
        Direction::Down
    } else {
        Direction::Flat
    };

    let year_over_year = (complete.len() >= 2 * p).then(|| {
        let last: f64 = complete[complete.len() - p..].iter().map(|(_, v)| v).sum();
        let before: f64 = complete[complete.len() - 2 * p..complete.len() - p].iter().map(|(_, v)| v).sum();
        relative_change(last, before)
    });
    TrendAnalysis { points, direction, slope_per_period: slope, year_over_year: year_over_year.flatten() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seasonal_growth(months: usize, growth: f64) -> Vec<f64> {
        (0..months)
            .map(|t| {
                let season = 1.0 + 0.5 * (std::f64::consts::TAU * t as f64 / 12.0).sin();
                100.0 * (1.0 + growth).powf(t as f64 / 12.0) * season
            })
            .collect()
    }

    #[test]
    fn growth_through_seasons_and_a_dip_is_up() {
        let mut series = seasonal_growth(60, 0.10);
        series[30] *= 0.3;
        series[31] *= 0.3;
        let result = analyze(&series, &[], 12);
        assert_eq!(result.direction, Direction::Up);
        assert!((result.year_over_year.unwrap() - 0.10).abs() < 0.01, "{:?}", result.year_over_year);
        assert!(result.points[59].moving_average.is_some() && result.points[5].moving_average.is_none());
    }

    #[test]
    fn slow_decline_is_down_and_noise_is_flat() {
        assert_eq!(analyze(&seasonal_growth(72, -0.03), &[], 12).direction, Direction::Down);
        let flat: Vec<f64> = (0..48).map(|t| 100.0 + if t % 2 == 0 { 3.0 } else { -3.0 }).collect();
        assert_eq!(analyze(&flat, &[], 12).direction, Direction::Flat);
    }

    #[test]
    fn partial_periods_are_marked_and_not_compared() {
        let mut series = seasonal_growth(36, 0.2);
        series[35] = 1.0; // a month that has only begun
        let mut partial = vec![false; 36];
        partial[35] = true;
        let result = analyze(&series, &partial, 12);
        assert!(result.points[35].partial && result.points[35].year_over_year.is_none());
        assert_eq!(result.direction, Direction::Up);
    }

    #[test]
    fn empty_single_and_constant_series() {
        let empty = analyze(&[], &[], 12);
        assert!(
            empty.points.is_empty() && empty.direction == Direction::Flat && empty.year_over_year.is_none()
        );
        let single = analyze(&[5.0], &[], 12);
        assert_eq!((single.direction, single.slope_per_period), (Direction::Flat, 0.0));
        let constant = analyze(&[7.0; 30], &[], 12);
        assert_eq!(constant.direction, Direction::Flat);
        assert_eq!(constant.year_over_year, Some(0.0));
    }
}
