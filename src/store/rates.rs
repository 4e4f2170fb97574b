//! Exchange rates as kept: one a pair, day and source (a correction replaces it).

use chrono::NaiveDate;
use sqlx::Row;

use super::{Store, StoreError, now, read_date, stored_instant};
use crate::ledger::money::Currency;
use crate::ledger::rates::{RATE_LOOKBACK_DAYS, Rate};

/// Rows a statement writes at most (7 values each: well under both engines' limits).
const ROWS_PER_STATEMENT: usize = 500;

/// Which rates to list, newest day first.
#[derive(Clone, Debug, Default)]
pub struct RateFilter {
    pub base: Option<Currency>,
    pub quote: Option<Currency>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub limit: i64,
}

fn rate_from_row(row: &sqlx::any::AnyRow) -> Result<Rate, StoreError> {
    let currency = |column: &str| -> Result<Currency, StoreError> {
        let code: String = row.try_get(column)?;
        Currency::from_code(&code).map_err(|_| StoreError::Corrupt(format!("rate {column}: {code}")))
    };
    let rate: String = row.try_get("rate")?;
    let rate: rust_decimal::Decimal =
        rate.parse().map_err(|_| StoreError::Corrupt(format!("rate {rate}")))?;
    if rate <= rust_decimal::Decimal::ZERO {
        return Err(StoreError::Corrupt(format!("rate {rate}")));
    }
    Ok(Rate {
        base: currency("base")?,
        quote: currency("quote")?,
        day: read_date(&row.try_get::<String, _>("day")?)?,
        rate,
        source: row.try_get("source")?,
    })
}

impl Store {
    /// Keeps `rates` in one transaction (a rate of a pair, day and source kept before is
    /// replaced by the new one); how many were new or changed. `on_progress` hears how many
    /// are done.
    pub async fn keep_rates(
        &self,
        rates: &[Rate],
        by: &str,
        on_progress: &(dyn Fn(usize, usize) + Sync),
    ) -> Result<u64, StoreError> {
        // A pair, day and source once, the last given winning (one statement may not touch a
        // row twice on PostgreSQL).
        let mut seen = std::collections::HashMap::new();
        for (index, rate) in rates.iter().enumerate() {
            seen.insert((rate.base.code(), rate.quote.code(), rate.day, rate.source.as_str()), index);
        }
        let mut kept: Vec<usize> = seen.into_values().collect();
        kept.sort_unstable();
        let rates: Vec<Rate> = kept.into_iter().map(|index| rates[index].clone()).collect();
        let rates = rates.as_slice();
        let at = stored_instant(now());
        let mut write = self.begin_write().await?;
        let mut changed = 0;
        for (done, chunk) in rates.chunks(ROWS_PER_STATEMENT).enumerate() {
            let rows: Vec<String> = (0..chunk.len())
                .map(|row| {
                    let first = row * 7;
                    format!(
                        "(${}, ${}, ${}, ${}, ${}, ${}, ${})",
                        first + 1,
                        first + 2,
                        first + 3,
                        first + 4,
                        first + 5,
                        first + 6,
                        first + 7
                    )
                })
                .collect();
            let sql = format!(
                "INSERT INTO exchange_rates (base, quote, day, rate, source, recorded_at, recorded_by) VALUES {} \
                 ON CONFLICT (base, quote, day, source) DO UPDATE SET rate = excluded.rate, \
                 recorded_at = excluded.recorded_at, recorded_by = excluded.recorded_by \
                 WHERE exchange_rates.rate <> excluded.rate",
                rows.join(", ")
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for rate in chunk {
                query = query
                    .bind(rate.base.code())
                    .bind(rate.quote.code())
                    .bind(rate.day.to_string())
                    .bind(rate.rate.to_string())
                    .bind(rate.source.as_str())
                    .bind(at.as_str())
                    .bind(by);
            }
            changed += query.execute(&mut *write.tx).await?.rows_affected();
            on_progress((done * ROWS_PER_STATEMENT + chunk.len()).min(rates.len()), rates.len());
        }
        write.commit().await?;
        Ok(changed)
    }

    /// The rates `filter` asks for, newest day first, then by pair and source.
    pub async fn rates(&self, filter: &RateFilter) -> Result<Vec<Rate>, StoreError> {
        let rows = sqlx::query(
            "SELECT base, quote, day, rate, source FROM exchange_rates \
             WHERE ($1 IS NULL OR base = $1) AND ($2 IS NULL OR quote = $2) \
             AND ($3 IS NULL OR day >= $3) AND ($4 IS NULL OR day <= $4) \
             ORDER BY day DESC, base, quote, source LIMIT $5",
        )
        .bind(filter.base.map(Currency::code))
        .bind(filter.quote.map(Currency::code))
        .bind(filter.from.map(|day| day.to_string()))
        .bind(filter.to.map(|day| day.to_string()))
        .bind(filter.limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(rate_from_row).collect()
    }

    /// Every rate between `currencies` (and the euro, which the ECB's rates are of) of `day`
    /// and the days before it that `choose_rate` may take.
    pub async fn rates_near(&self, currencies: &[Currency], day: NaiveDate) -> Result<Vec<Rate>, StoreError> {
        let mut codes: Vec<&str> = currencies.iter().map(|currency| currency.code()).collect();
        codes.push("EUR");
        // Both lists are the same codes: the placeholders after the two days.
        let list: Vec<String> = (0..codes.len()).map(|n| format!("${}", n + 3)).collect();
        let list = list.join(", ");
        let sql = format!(
            "SELECT base, quote, day, rate, source FROM exchange_rates \
             WHERE day >= $1 AND day <= $2 AND base IN ({list}) AND quote IN ({list}) \
             ORDER BY day, source, recorded_at, id"
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind((day - chrono::Duration::days(RATE_LOOKBACK_DAYS)).to_string())
            .bind(day.to_string());
        for code in &codes {
            query = query.bind(*code);
        }
        let rows = query.fetch_all(self.pool()).await?;
        rows.iter().map(rate_from_row).collect()
    }
}
