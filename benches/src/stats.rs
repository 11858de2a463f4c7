//! Agreement statistics between two lists of scores.

/// Returns Pearson's correlation coefficient, or `None` when the lists
/// differ in length, have fewer than two items, or one has no variance.
pub fn pearson(xs: &[f64], ys: &[f64]) -> Option<f64> {
    if xs.len() != ys.len() || xs.len() < 2 {
        return None;
    }
    let mean_x = mean(xs);
    let mean_y = mean(ys);
    let mut covariance = 0.0;
    let mut variance_x = 0.0;
    let mut variance_y = 0.0;
    for (x, y) in xs.iter().zip(ys) {
        covariance += (x - mean_x) * (y - mean_y);
        variance_x += (x - mean_x).powi(2);
        variance_y += (y - mean_y).powi(2);
    }
    if variance_x == 0.0 || variance_y == 0.0 {
        return None;
    }
    Some(covariance / (variance_x * variance_y).sqrt())
}

/// Returns the root-mean-square error, or `None` for lists of different
/// lengths or empty lists.
pub fn rmse(xs: &[f64], ys: &[f64]) -> Option<f64> {
    if xs.len() != ys.len() || xs.is_empty() {
        return None;
    }
    let sum: f64 = xs.iter().zip(ys).map(|(x, y)| (x - y).powi(2)).sum();
    Some((sum / count(xs)).sqrt())
}

/// Returns Cohen's quadratic weighted kappa of two ratings on the whole
/// numbers `0..=max_rating`. Each score is rounded half away from zero and
/// clamped to that range first. `None` when the lists differ in length, are
/// empty, or the expected disagreement is zero.
pub fn quadratic_weighted_kappa(xs: &[f64], ys: &[f64], max_rating: usize) -> Option<f64> {
    if xs.len() != ys.len() || xs.is_empty() {
        return None;
    }
    let categories = max_rating + 1;
    let mut observed = vec![vec![0.0; categories]; categories];
    let mut histogram_x = vec![0.0; categories];
    let mut histogram_y = vec![0.0; categories];
    for (x, y) in xs.iter().zip(ys) {
        let i = rating(*x, max_rating);
        let j = rating(*y, max_rating);
        observed[i][j] += 1.0;
        histogram_x[i] += 1.0;
        histogram_y[j] += 1.0;
    }
    let n = count(xs);
    let denominator = (max_rating as f64).powi(2).max(1.0);
    let mut weighted_observed = 0.0;
    let mut weighted_expected = 0.0;
    for i in 0..categories {
        for j in 0..categories {
            let weight = (i as f64 - j as f64).powi(2) / denominator;
            weighted_observed += weight * observed[i][j];
            weighted_expected += weight * histogram_x[i] * histogram_y[j] / n;
        }
    }
    if weighted_expected == 0.0 {
        return None;
    }
    Some(1.0 - weighted_observed / weighted_expected)
}

/// Returns the median, or `None` for an empty list.
pub fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        Some(sorted[middle])
    } else {
        Some((sorted[middle - 1] + sorted[middle]) / 2.0)
    }
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / count(values)
}

#[allow(clippy::cast_precision_loss)]
fn count(values: &[f64]) -> f64 {
    values.len() as f64
}

/// Rounds `score` to a whole rating in `0..=max_rating`.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn rating(score: f64, max_rating: usize) -> usize {
    let clamped = score.round().clamp(0.0, max_rating as f64);
    clamped as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pearson_of_linear_lists_is_one() {
        let r = pearson(&[1.0, 2.0, 3.0], &[2.0, 4.0, 6.0]);
        assert!(r.is_some_and(|r| (r - 1.0).abs() < 1e-12), "{r:?}");
    }

    #[test]
    fn pearson_without_variance_is_none() {
        assert_eq!(pearson(&[1.0, 1.0], &[2.0, 3.0]), None);
    }

    #[test]
    fn rmse_of_known_lists() {
        assert_eq!(rmse(&[0.0, 0.0], &[3.0, 4.0]), Some(12.5_f64.sqrt()));
    }

    #[test]
    fn kappa_of_identical_ratings_is_one() {
        let ratings = [0.0, 1.0, 2.0, 5.0, 4.6];
        assert_eq!(quadratic_weighted_kappa(&ratings, &ratings, 5), Some(1.0));
    }

    #[test]
    fn kappa_of_known_table() {
        // Expected weighted disagreement is (2*2 + 2*2) / 4 = 2, so two
        // observed disagreements give 0 and one gives 0.5.
        let kappa = quadratic_weighted_kappa(&[0.0, 0.0, 1.0, 1.0], &[0.0, 1.0, 1.0, 0.0], 1);
        assert_eq!(kappa, Some(0.0));
        let kappa = quadratic_weighted_kappa(&[0.0, 0.0, 1.0, 1.0], &[0.0, 0.0, 1.0, 0.0], 1);
        assert_eq!(kappa, Some(0.5));
    }

    #[test]
    fn median_of_even_and_odd_lists() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
    }
}
