//! The Chilean 1.0-7.0 grade computed from points and a client's grade scale.

use rust_decimal::prelude::{FromPrimitive, ToPrimitive};
use rust_decimal::{Decimal, RoundingStrategy};

use crate::tenancy::GradeScale;

/// Computes the grade for `points` out of `max_points` on `scale`.
///
/// Below the cut-off (`p < e*P`) the grade rises linearly from the minimum
/// to the passing grade: `min + (pass - min) * p / (e*P)`. At or above it,
/// it rises from the passing grade to the maximum:
/// `pass + (max - pass) * (p - e*P) / (P - e*P)`. With the default scale
/// (1.0, 4.0, 7.0) this is the usual `1 + 3p/(eP)` and `4 + 3(p - eP)/(P - eP)`.
/// Points are clamped to `0..=max_points` and the grade is rounded to one
/// decimal, half away from zero. Returns the minimum grade when `max_points`
/// is not positive.
pub fn chilean_grade(points: f64, max_points: f64, scale: &GradeScale) -> Decimal {
    let (Some(p), Some(total)) = (Decimal::from_f64(points), Decimal::from_f64(max_points)) else {
        return scale.min_grade;
    };
    if total <= Decimal::ZERO {
        return scale.min_grade;
    }
    let p = p.clamp(Decimal::ZERO, total);
    let cut = scale.exigencia * total;
    let grade = if p < cut {
        scale.min_grade + (scale.passing_grade - scale.min_grade) * p / cut
    } else {
        scale.passing_grade + (scale.max_grade - scale.passing_grade) * (p - cut) / (total - cut)
    };
    grade.round_dp_with_strategy(1, RoundingStrategy::MidpointAwayFromZero)
}

/// Converts a grade to `f64` for storage and JSON.
pub fn grade_to_f64(grade: Decimal) -> f64 {
    grade.to_f64().unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grade(points: f64, max: f64) -> String {
        chilean_grade(points, max, &GradeScale::default()).to_string()
    }

    #[test]
    fn grade_of_hundred_point_assignment() {
        assert_eq!(grade(0.0, 100.0), "1.0");
        assert_eq!(grade(59.0, 100.0), "4.0"); // 1 + 3*59/60 = 3.95, rounded half up
        assert_eq!(grade(60.0, 100.0), "4.0");
        assert_eq!(grade(100.0, 100.0), "7.0");
        assert_eq!(grade(30.0, 100.0), "2.5");
        assert_eq!(grade(80.0, 100.0), "5.5");
    }

    #[test]
    fn grade_of_seven_point_assignment() {
        // Cut-off at 4.2 points.
        assert_eq!(grade(0.0, 7.0), "1.0");
        assert_eq!(grade(4.2, 7.0), "4.0");
        assert_eq!(grade(4.0, 7.0), "3.9"); // 1 + 3*4/4.2 = 3.857
        assert_eq!(grade(5.0, 7.0), "4.9"); // 4 + 3*0.8/2.8 = 4.857
        assert_eq!(grade(7.0, 7.0), "7.0");
    }

    #[test]
    fn grade_of_five_point_assignment() {
        // Cut-off at 3 points.
        assert_eq!(grade(3.0, 5.0), "4.0");
        assert_eq!(grade(2.0, 5.0), "3.0");
        assert_eq!(grade(4.0, 5.0), "5.5");
        assert_eq!(grade(5.0, 5.0), "7.0");
        assert_eq!(grade(2.5, 5.0), "3.5");
    }

    #[test]
    fn grade_clamps_out_of_range_points() {
        assert_eq!(grade(-3.0, 5.0), "1.0");
        assert_eq!(grade(9.0, 5.0), "7.0");
        assert_eq!(grade(f64::NAN, 5.0), "1.0");
    }

    #[test]
    fn grade_uses_client_exigencia() {
        let scale = GradeScale {
            exigencia: Decimal::new(5, 1),
            ..GradeScale::default()
        };
        assert_eq!(chilean_grade(50.0, 100.0, &scale).to_string(), "4.0");
        assert_eq!(chilean_grade(75.0, 100.0, &scale).to_string(), "5.5");
    }
}
