//! Segments of models by k-means (linfa-clustering) over standardized per-model features; k is
//! chosen by silhouette when not given, and each segment is named from its centroid.

use linfa::DatasetBase;
use linfa::traits::{Fit, Predict};
use linfa_clustering::KMeans;
use ndarray::Array2;

use super::{mean, median};

/// What describes a model's market position, in original units.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Features {
    /// USD per car.
    pub average_price: f64,
    /// Units over the last twelve months.
    pub units_per_year: f64,
    /// Last twelve months against the twelve before (0.1 = +10%).
    pub growth: f64,
    /// Coefficient of variation of monthly units over two years.
    pub volatility: f64,
    /// Share of units that are electric (0-1).
    pub electric_share: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub id: usize,
    pub label: String,
    /// Indices into the input.
    pub members: Vec<usize>,
    pub centroid: Features,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SegmentAnalysis {
    pub k: usize,
    pub silhouette: f64,
    pub segments: Vec<Segment>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SegmentError {
    #[error("{models} models cannot form {k} segments (k must be between 2 and {max})")]
    BadK { k: usize, models: usize, max: usize },
    #[error("segmenting needs at least 3 models with sales in the last year; the filter leaves {0}")]
    TooFew(usize),
    #[error("clustering failed: {0}")]
    Clustering(String),
}

pub const MAX_K: usize = 8;

/// The standardized feature matrix: log price, log volume, growth, volatility, electric share.
fn standardize(features: &[Features]) -> Array2<f64> {
    let raw: Vec<[f64; 5]> = features
        .iter()
        .map(|f| {
            [
                f.average_price.max(1.0).ln(),
                f.units_per_year.max(0.0).ln_1p(),
                f.growth.clamp(-1.0, 3.0),
                f.volatility,
                f.electric_share,
            ]
        })
        .collect();
    let mut matrix = Array2::<f64>::zeros((raw.len(), 5));
    for column in 0..5 {
        let values: Vec<f64> = raw.iter().map(|r| r[column]).collect();
        let m = mean(&values);
        let sd = (values.iter().map(|v| (v - m).powi(2)).sum::<f64>() / values.len().max(1) as f64).sqrt();
        for (row, v) in values.iter().enumerate() {
            matrix[[row, column]] = if sd > 1e-12 { (v - m) / sd } else { 0.0 };
        }
    }
    matrix
}

fn distance(a: ndarray::ArrayView1<f64>, b: ndarray::ArrayView1<f64>) -> f64 {
    a.iter().zip(b.iter()).map(|(x, y)| (x - y).powi(2)).sum::<f64>().sqrt()
}

/// Mean silhouette of a labelling (0 for points alone in their cluster).
pub fn silhouette(points: &Array2<f64>, labels: &[usize]) -> f64 {
    let n = labels.len();
    if n < 2 {
        return 0.0;
    }
    let clusters = labels.iter().max().map_or(0, |m| m + 1);
    let mut total = 0.0;
    for i in 0..n {
        let mut sums = vec![0.0; clusters];
        let mut counts = vec![0usize; clusters];
        for j in 0..n {
            if i != j {
                sums[labels[j]] += distance(points.row(i), points.row(j));
                counts[labels[j]] += 1;
            }
        }
        let own = labels[i];
        if counts[own] == 0 {
            continue;
        }
        let a = sums[own] / counts[own] as f64;
        let b = (0..clusters)
            .filter(|c| *c != own && counts[*c] > 0)
            .map(|c| sums[c] / counts[c] as f64)
            .fold(f64::INFINITY, f64::min);
        if b.is_finite() && a.max(b) > 0.0 {
            total += (b - a) / a.max(b);
        }
    }
    total / n as f64
}

fn cluster(points: &Array2<f64>, k: usize) -> Result<Vec<usize>, SegmentError> {
    let dataset = DatasetBase::from(points.clone());
    let model = KMeans::params(k)
        .max_n_iterations(300)
        .tolerance(1e-6)
        .fit(&dataset)
        .map_err(|e| SegmentError::Clustering(e.to_string()))?;
    Ok(model.predict(points).to_vec())
}

/// Names a centroid against the typical model (medians over all models).
fn label(centroid: &Features, typical_price: f64, typical_volume: f64) -> &'static str {
    if centroid.electric_share >= 0.5 && centroid.growth >= 0.1 {
        "electric growth"
    } else if centroid.growth >= 0.2 {
        "growth"
    } else if centroid.growth <= -0.25 {
        "fading"
    } else if centroid.volume_ratio(typical_volume) >= 2.0 {
        "volume core"
    } else if typical_price <= 0.0 {
        // No prices (none recorded, or a viewer who may not see money): named by volume alone.
        "steady"
    } else if centroid.average_price >= 1.5 * typical_price {
        "premium flagship"
    } else if centroid.average_price >= typical_price {
        "niche performance"
    } else {
        "entry"
    }
}

impl Features {
    fn volume_ratio(&self, typical: f64) -> f64 {
        if typical > 0.0 { self.units_per_year / typical } else { 1.0 }
    }
}

pub fn segment(features: &[Features], k: Option<usize>) -> Result<SegmentAnalysis, SegmentError> {
    let n = features.len();
    if n < 3 {
        return Err(SegmentError::TooFew(n));
    }
    let max = MAX_K.min(n - 1);
    if let Some(k) = k
        && !(2..=max).contains(&k)
    {
        return Err(SegmentError::BadK { k, models: n, max });
    }
    let points = standardize(features);
    let candidates: Vec<usize> = match k {
        Some(k) => vec![k],
        None => (2..=max).collect(),
    };
    let mut best: Option<(usize, f64, Vec<usize>)> = None;
    for k in candidates {
        let labels = cluster(&points, k)?;
        let score = silhouette(&points, &labels);
        if best.as_ref().is_none_or(|(_, s, _)| score > *s + 1e-12) {
            best = Some((k, score, labels));
        }
    }
    let Some((k, silhouette, labels)) = best else { return Err(SegmentError::TooFew(n)) };
    let typical_price =
        median(&mut features.iter().map(|f| f.average_price).collect::<Vec<_>>()).unwrap_or(0.0);
    let typical_volume =
        median(&mut features.iter().map(|f| f.units_per_year).collect::<Vec<_>>()).unwrap_or(0.0);
    let mut segments: Vec<Segment> = Vec::new();
    for cluster_id in 0..k {
        let members: Vec<usize> = (0..n).filter(|i| labels[*i] == cluster_id).collect();
        if members.is_empty() {
            continue;
        }
        let avg =
            |f: fn(&Features) -> f64| mean(&members.iter().map(|i| f(&features[*i])).collect::<Vec<_>>());
        let centroid = Features {
            average_price: avg(|f| f.average_price),
            units_per_year: avg(|f| f.units_per_year),
            growth: avg(|f| f.growth),
            volatility: avg(|f| f.volatility),
            electric_share: avg(|f| f.electric_share),
        };
        segments.push(Segment {
            id: 0,
            label: label(&centroid, typical_price, typical_volume).to_string(),
            members,
            centroid,
        });
    }
    // Stable ids and order: by volume, largest first; repeated labels are numbered.
    segments.sort_by(|a, b| b.centroid.units_per_year.total_cmp(&a.centroid.units_per_year));
    for i in 0..segments.len() {
        segments[i].id = i + 1;
        let same = segments[..i].iter().filter(|s| s.label.starts_with(&segments[i].label)).count();
        if same > 0 {
            segments[i].label = format!("{} {}", segments[i].label, same + 1);
        }
    }
    Ok(SegmentAnalysis { k: segments.len(), silhouette, segments })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(price: f64, units: f64, growth: f64, electric: f64) -> Features {
        Features {
            average_price: price,
            units_per_year: units,
            growth,
            volatility: 0.1,
            electric_share: electric,
        }
    }

    #[test]
    fn clear_groups_are_found_and_named_from_their_centroids() {
        let models = vec![
            f(100_000.0, 2_000.0, -0.03, 0.0),
            f(110_000.0, 1_500.0, 0.0, 0.0),
            f(45_000.0, 120_000.0, 0.0, 0.0),
            f(50_000.0, 100_000.0, 0.01, 0.0),
            f(60_000.0, 15_000.0, 0.35, 1.0),
            f(88_000.0, 12_000.0, 0.30, 1.0),
        ];
        let result = segment(&models, None).unwrap();
        let together = |a: usize, b: usize| {
            result.segments.iter().any(|s| s.members.contains(&a) && s.members.contains(&b))
        };
        assert!(together(0, 1) && together(2, 3) && together(4, 5), "{result:?}");
        assert!(result.silhouette > 0.4, "{result:?}");
        assert!(result.segments.iter().any(|s| s.label == "electric growth"));
        assert_eq!(segment(&models, None).unwrap(), result, "deterministic");
    }

    #[test]
    fn too_few_models_and_bad_k_are_refused() {
        assert_eq!(segment(&[], None), Err(SegmentError::TooFew(0)));
        assert_eq!(segment(&[Features::default(); 2], None), Err(SegmentError::TooFew(2)));
        let models = vec![f(1.0, 1.0, 0.0, 0.0); 5];
        assert!(matches!(segment(&models, Some(9)), Err(SegmentError::BadK { .. })));
        // Identical models: any split has zero silhouette, but nothing panics.
        let same = segment(&models, Some(2)).unwrap();
        assert_eq!(same.silhouette, 0.0);
    }
}
