//! Prices: an amount in the currency's minor units (cents, yen) and an ISO 4217 currency that has minor units.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The largest price accepted, in minor units: well above any real price, far below where sums overflow.
pub const MAX_AMOUNT_MINOR: i64 = 1_000_000_000_000;

/// A price.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Money {
    /// In the currency's minor units: 499 is 4.99 EUR, 500 is 500 JPY.
    #[schema(minimum = 1, maximum = 1e12, example = 499)]
    pub amount_minor: i64,
    /// ISO 4217 code, upper case: `EUR`, `USD`, `JPY`.
    #[schema(pattern = "^[A-Z]{3}$", example = "EUR")]
    pub currency: String,
}

/// Why a price is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("the amount must be between 1 and {MAX_AMOUNT_MINOR} minor units, not {0}")]
    Amount(i64),
    #[error("{0:?} is not an ISO 4217 currency code (three upper-case letters, e.g. EUR)")]
    UnknownCurrency(String),
    #[error("{0} is not a currency money is charged in (a fund, metal or test code without minor units)")]
    NotChargeable(String),
}

impl Money {
    /// A valid price: a positive amount and a chargeable ISO 4217 currency.
    pub fn new(amount_minor: i64, currency: &str) -> Result<Self, MoneyError> {
        let currency = valid_currency(currency)?;
        if !(1..=MAX_AMOUNT_MINOR).contains(&amount_minor) {
            return Err(MoneyError::Amount(amount_minor));
        }
        Ok(Self { amount_minor, currency })
    }
}

/// The currency code if it is an ISO 4217 currency with minor units (XAU, XDR, XTS and XXX have none).
pub fn valid_currency(code: &str) -> Result<String, MoneyError> {
    // Upper case only: `eur` is refused rather than guessed at, so stored codes compare as written.
    let currency = iso_currency::Currency::from_code(code)
        .filter(|_| code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase()))
        .ok_or_else(|| MoneyError::UnknownCurrency(code.to_owned()))?;
    if currency.exponent().is_none() {
        return Err(MoneyError::NotChargeable(code.to_owned()));
    }
    Ok(code.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_need_a_positive_amount_and_a_chargeable_currency() {
        assert_eq!(Money::new(499, "EUR").unwrap(), Money { amount_minor: 499, currency: "EUR".into() });
        assert!(Money::new(500, "JPY").is_ok());
        assert_eq!(Money::new(0, "EUR"), Err(MoneyError::Amount(0)));
        assert_eq!(Money::new(-5, "EUR"), Err(MoneyError::Amount(-5)));
        assert_eq!(Money::new(MAX_AMOUNT_MINOR + 1, "EUR"), Err(MoneyError::Amount(MAX_AMOUNT_MINOR + 1)));
        for bad in ["eur", "EURO", "", "ZZZ", "E U", "€"] {
            assert_eq!(Money::new(1, bad), Err(MoneyError::UnknownCurrency(bad.into())), "{bad}");
        }
        for metal in ["XAU", "XXX", "XTS"] {
            assert_eq!(Money::new(1, metal), Err(MoneyError::NotChargeable(metal.into())), "{metal}");
        }
    }

    proptest::proptest! {
        /// Any three-letter text is either refused or an ISO code that reads back as itself.
        #[test]
        fn currencies_are_iso_codes_or_refused(code in "[A-Za-z]{0,4}", amount in proptest::num::i64::ANY) {
            match Money::new(amount, &code) {
                Ok(money) => {
                    proptest::prop_assert_eq!(&money.currency, &code);
                    proptest::prop_assert!(iso_currency::Currency::from_code(&code).is_some());
                    proptest::prop_assert!((1..=MAX_AMOUNT_MINOR).contains(&amount));
                }
                Err(MoneyError::Amount(a)) => proptest::prop_assert_eq!(a, amount),
                Err(_) => {}
            }
        }
    }
}
