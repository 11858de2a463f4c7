//! Splitting an invoice line among clients so the parts add up exactly.

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

/// Splits `total` among parts in proportion to `weights`, in whole
/// smallest units of a currency with `decimals` decimal places, by the
/// largest-remainder method. Each part first gets the floor of its exact
/// share. The units left over then go one each to the parts with the
/// largest remainders, and ties go to the earlier part. The parts add up
/// to `total` exactly.
///
/// Returns `None` when every weight is zero and `total` is not, or when
/// `total` is not a whole number of smallest units or is too large.
pub(crate) fn allocate(total: Decimal, decimals: u32, weights: &[u128]) -> Option<Vec<Decimal>> {
    let weight_sum: u128 = weights.iter().try_fold(0u128, |a, w| a.checked_add(*w))?;
    if total.is_zero() {
        return Some(vec![Decimal::new(0, decimals); weights.len()]);
    }
    if weight_sum == 0 {
        return None;
    }
    let scaled = total * Decimal::from(10u64.pow(decimals));
    if scaled.fract() != Decimal::ZERO {
        return None;
    }
    let units = scaled.abs().to_u128()?;

    let mut shares = Vec::with_capacity(weights.len());
    let mut remainders = Vec::with_capacity(weights.len());
    let mut given: u128 = 0;
    for (index, weight) in weights.iter().enumerate() {
        let product = units.checked_mul(*weight)?;
        shares.push(product / weight_sum);
        remainders.push((product % weight_sum, index));
        given += product / weight_sum;
    }
    // Largest remainder first; among equal remainders the earlier part first.
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let left = units - given;
    for (_, index) in remainders.iter().take(usize::try_from(left).ok()?) {
        shares[*index] += 1;
    }
    let negative = total.is_sign_negative();
    shares
        .into_iter()
        .map(|share| {
            let units = i128::try_from(share).ok()?;
            let signed = if negative { -units } else { units };
            Decimal::try_from_i128_with_scale(signed, decimals).ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;

    fn sum(parts: &[Decimal]) -> Decimal {
        parts.iter().copied().sum()
    }

    #[test]
    fn thirds_add_up() {
        let parts = allocate(dec!(100.00), 2, &[1, 1, 1]).unwrap();
        assert_eq!(parts, [dec!(33.34), dec!(33.33), dec!(33.33)]);
        assert_eq!(sum(&parts), dec!(100.00));
    }

    #[test]
    fn largest_remainder_wins() {
        // Exact shares 1.666.., 3.333..: the second has the larger remainder.
        let parts = allocate(dec!(0.05), 2, &[1, 2]).unwrap();
        assert_eq!(parts, [dec!(0.02), dec!(0.03)]);
    }

    #[test]
    fn whole_pesos() {
        let parts = allocate(dec!(1000), 0, &[3, 3, 1]).unwrap();
        assert_eq!(sum(&parts), dec!(1000));
        assert_eq!(parts, [dec!(429), dec!(428), dec!(143)]);
    }

    #[test]
    fn negative_total_splits_with_sign() {
        let parts = allocate(dec!(-0.10), 2, &[1, 2]).unwrap();
        assert_eq!(sum(&parts), dec!(-0.10));
        assert!(parts.iter().all(|p| p.is_sign_negative() || p.is_zero()));
    }

    #[test]
    fn zero_weights_cannot_carry_amount() {
        assert!(allocate(dec!(5.00), 2, &[0, 0]).is_none());
        assert_eq!(allocate(dec!(0.00), 2, &[0, 0]).unwrap().len(), 2);
    }

    #[test]
    fn many_parts_add_up() {
        let weights: Vec<u128> = (1..=97).map(|w| w * 7919 % 1000 + 1).collect();
        let parts = allocate(dec!(12345.67), 2, &weights).unwrap();
        assert_eq!(sum(&parts), dec!(12345.67));
    }
}
