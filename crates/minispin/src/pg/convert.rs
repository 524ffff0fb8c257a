//! Values between the interface and Postgres, with Spin's strictness: the
//! types Spin maps, the ones it reports as unsupported, and the errors a
//! conversion gives (a value that does not convert is a query failure in
//! text, met while reading rows, as in Spin).

use super::bindings::spin::postgres::postgres::{
    DbDataType, DbValue, Error, Interval, ParameterValue, QueryError,
};
use bytes::BytesMut;
use tokio_postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};

pub(super) fn data_type(t: &Type) -> DbDataType {
    match *t {
        Type::BOOL => DbDataType::Boolean,
        Type::INT2 => DbDataType::Int16,
        Type::INT4 => DbDataType::Int32,
        Type::INT8 => DbDataType::Int64,
        Type::FLOAT4 => DbDataType::Floating32,
        Type::FLOAT8 => DbDataType::Floating64,
        Type::TEXT | Type::VARCHAR | Type::BPCHAR => DbDataType::Str,
        Type::BYTEA => DbDataType::Binary,
        Type::DATE => DbDataType::Date,
        Type::TIME => DbDataType::Time,
        Type::TIMESTAMP => DbDataType::Datetime,
        Type::TIMESTAMPTZ => DbDataType::Timestamp,
        Type::UUID => DbDataType::Uuid,
        Type::JSONB => DbDataType::Jsonb,
        Type::NUMERIC => DbDataType::Decimal,
        Type::INT4_RANGE => DbDataType::RangeInt32,
        Type::INT8_RANGE => DbDataType::RangeInt64,
        Type::NUM_RANGE => DbDataType::RangeDecimal,
        Type::INT4_ARRAY => DbDataType::ArrayInt32,
        Type::INT8_ARRAY => DbDataType::ArrayInt64,
        Type::NUMERIC_ARRAY => DbDataType::ArrayDecimal,
        Type::TEXT_ARRAY | Type::VARCHAR_ARRAY | Type::BPCHAR_ARRAY => DbDataType::ArrayStr,
        Type::INTERVAL => DbDataType::Interval,
        ref other => DbDataType::Other(other.to_string()),
    }
}

/// A value that cannot be handed over: Spin reports it as a query failure in
/// text, met while reading rows.
fn conversion(e: impl std::fmt::Display) -> Error {
    Error::QueryFailed(QueryError::Text(e.to_string()))
}

fn get<'a, T: FromSql<'a>>(row: &'a tokio_postgres::Row, i: usize) -> Result<Option<T>, Error> {
    row.try_get::<_, Option<T>>(i).map_err(|e| {
        // The useful part ("cannot convert between the Rust type ... and the
        // Postgres type timestamptz") is the source of "error deserializing
        // column 0"; the component should see both, as under Spin.
        match std::error::Error::source(&e) {
            Some(source) => conversion(format!("{e}: {source}")),
            None => conversion(e),
        }
    })
}

pub(super) fn db_value(row: &tokio_postgres::Row, i: usize) -> Result<DbValue, Error> {
    use chrono::{Datelike, Timelike};
    let t = row.columns()[i].type_().clone();
    let value = match t {
        Type::BOOL => get::<bool>(row, i)?.map(DbValue::Boolean),
        Type::INT2 => get::<i16>(row, i)?.map(DbValue::Int16),
        Type::INT4 => get::<i32>(row, i)?.map(DbValue::Int32),
        Type::INT8 => get::<i64>(row, i)?.map(DbValue::Int64),
        Type::FLOAT4 => get::<f32>(row, i)?.map(DbValue::Floating32),
        Type::FLOAT8 => get::<f64>(row, i)?.map(DbValue::Floating64),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR => get::<String>(row, i)?.map(DbValue::Str),
        Type::BYTEA => get::<Vec<u8>>(row, i)?.map(DbValue::Binary),
        Type::DATE => get::<chrono::NaiveDate>(row, i)?
            .map(|d| DbValue::Date((d.year(), d.month() as u8, d.day() as u8))),
        Type::TIME => get::<chrono::NaiveTime>(row, i)?.map(|t| {
            DbValue::Time((
                t.hour() as u8,
                t.minute() as u8,
                t.second() as u8,
                t.nanosecond(),
            ))
        }),
        // Spin reads both timestamp kinds as a naive date-time, which fails
        // for `timestamptz`; reproduce that so components cast in SQL.
        Type::TIMESTAMP | Type::TIMESTAMPTZ => get::<chrono::NaiveDateTime>(row, i)?.map(|d| {
            DbValue::Datetime((
                d.year(),
                d.month() as u8,
                d.day() as u8,
                d.hour() as u8,
                d.minute() as u8,
                d.second() as u8,
                d.nanosecond(),
            ))
        }),
        Type::UUID => get::<uuid::Uuid>(row, i)?.map(|u| DbValue::Uuid(u.to_string())),
        Type::JSONB => get::<serde_json::Value>(row, i)?
            .map(|v| serde_json::to_vec(&v).map(DbValue::Jsonb))
            .transpose()
            .map_err(conversion)?,
        Type::INT4_ARRAY => get::<Vec<Option<i32>>>(row, i)?.map(DbValue::ArrayInt32),
        Type::INT8_ARRAY => get::<Vec<Option<i64>>>(row, i)?.map(DbValue::ArrayInt64),
        Type::TEXT_ARRAY | Type::VARCHAR_ARRAY | Type::BPCHAR_ARRAY => {
            get::<Vec<Option<String>>>(row, i)?.map(DbValue::ArrayStr)
        }
        Type::INTERVAL => get::<PgInterval>(row, i)?.map(|v| DbValue::Interval(v.0)),
        Type::NUMERIC
        | Type::NUM_RANGE
        | Type::INT4_RANGE
        | Type::INT8_RANGE
        | Type::NUMERIC_ARRAY => {
            return Err(conversion(format!(
                "the runner does not convert Postgres type {t} yet; cast it to text in SQL"
            )));
        }
        _ => get::<RawBytes>(row, i)?.map(|b| DbValue::Unsupported(b.0)),
    };
    Ok(value.unwrap_or(DbValue::DbNull))
}

pub(super) type Param = Box<dyn ToSql + Sync + Send>;

pub(super) fn to_sql_params(params: Vec<ParameterValue>) -> Result<Vec<Param>, Error> {
    params.into_iter().map(to_sql).collect()
}

fn bad(what: &str, e: impl std::fmt::Display) -> Error {
    Error::BadParameter(format!("invalid {what}: {e}"))
}

fn to_sql(p: ParameterValue) -> Result<Param, Error> {
    use ParameterValue as P;
    Ok(match p {
        P::Boolean(v) => Box::new(v),
        P::Int8(v) => Box::new(v),
        P::Int16(v) => Box::new(v),
        P::Int32(v) => Box::new(v),
        P::Int64(v) => Box::new(v),
        P::Floating32(v) => Box::new(v),
        P::Floating64(v) => Box::new(v),
        P::Str(v) => Box::new(v),
        P::Binary(v) => Box::new(v),
        P::Date((y, m, d)) => Box::new(
            chrono::NaiveDate::from_ymd_opt(y, m.into(), d.into())
                .ok_or_else(|| bad("date", format!("{y}-{m}-{d}")))?,
        ),
        P::Time((h, m, s, ns)) => Box::new(
            chrono::NaiveTime::from_hms_nano_opt(h.into(), m.into(), s.into(), ns)
                .ok_or_else(|| bad("time", format!("{h}:{m}:{s}.{ns}")))?,
        ),
        P::Datetime((y, mo, d, h, mi, s, ns)) => {
            let date = chrono::NaiveDate::from_ymd_opt(y, mo.into(), d.into())
                .ok_or_else(|| bad("datetime", "date out of range"))?;
            let time = chrono::NaiveTime::from_hms_nano_opt(h.into(), mi.into(), s.into(), ns)
                .ok_or_else(|| bad("datetime", "time out of range"))?;
            Box::new(chrono::NaiveDateTime::new(date, time))
        }
        P::Timestamp(secs) => Box::new(
            chrono::DateTime::<chrono::Utc>::from_timestamp(secs, 0)
                .ok_or_else(|| bad("timestamp", secs))?,
        ),
        P::Uuid(s) => Box::new(uuid::Uuid::parse_str(&s).map_err(|e| bad("uuid", e))?),
        P::Jsonb(bytes) => Box::new(
            serde_json::from_slice::<serde_json::Value>(&bytes).map_err(|e| bad("jsonb", e))?,
        ),
        P::ArrayInt32(v) => Box::new(v),
        P::ArrayInt64(v) => Box::new(v),
        P::ArrayStr(v) => Box::new(v),
        P::Interval(i) => Box::new(PgInterval(i)),
        P::DbNull => Box::new(PgNull),
        P::Decimal(_)
        | P::RangeInt32(_)
        | P::RangeInt64(_)
        | P::RangeDecimal(_)
        | P::ArrayDecimal(_) => {
            return Err(Error::BadParameter(
                "the runner does not bind decimal or range parameters yet; pass them as text and cast in SQL"
                    .to_string(),
            ));
        }
    })
}

/// SQL NULL that binds to a parameter of any type.
#[derive(Debug)]
struct PgNull;

impl ToSql for PgNull {
    fn to_sql(
        &self,
        _: &Type,
        _: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        Ok(IsNull::Yes)
    }
    fn accepts(_: &Type) -> bool {
        true
    }
    to_sql_checked!();
}

/// `interval` in Postgres' binary form: microseconds, days, months.
#[derive(Debug)]
struct PgInterval(Interval);

impl ToSql for PgInterval {
    fn to_sql(
        &self,
        _: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        out.extend_from_slice(&self.0.micros.to_be_bytes());
        out.extend_from_slice(&self.0.days.to_be_bytes());
        out.extend_from_slice(&self.0.months.to_be_bytes());
        Ok(IsNull::No)
    }
    fn accepts(t: &Type) -> bool {
        *t == Type::INTERVAL
    }
    to_sql_checked!();
}

impl<'a> FromSql<'a> for PgInterval {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        let raw: &[u8; 16] = raw.try_into().map_err(|_| "interval must be 16 bytes")?;
        let micros = i64::from_be_bytes(raw[0..8].try_into()?);
        let days = i32::from_be_bytes(raw[8..12].try_into()?);
        let months = i32::from_be_bytes(raw[12..16].try_into()?);
        Ok(PgInterval(Interval {
            micros,
            days,
            months,
        }))
    }
    fn accepts(t: &Type) -> bool {
        *t == Type::INTERVAL
    }
}

/// Any other column, handed over as its raw binary encoding.
struct RawBytes(Vec<u8>);

impl<'a> FromSql<'a> for RawBytes {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(RawBytes(raw.to_vec()))
    }
    fn accepts(_: &Type) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binds(p: ParameterValue) -> Result<(), String> {
        to_sql(p).map(|_| ()).map_err(|e| format!("{e:?}"))
    }

    #[test]
    fn parameters_convert_as_spin_converts_them() {
        for ok in [
            ParameterValue::Int64(5),
            ParameterValue::Str("x".into()),
            ParameterValue::Boolean(true),
            ParameterValue::DbNull,
            ParameterValue::Date((2026, 11, 28)),
            ParameterValue::Datetime((2026, 11, 28, 4, 6, 8, 0)),
            ParameterValue::Timestamp(1_795_838_768),
            ParameterValue::Uuid("67e55044-10b1-426f-9247-bb680e5fe0c8".into()),
            ParameterValue::Jsonb(b"{\"a\":1}".to_vec()),
        ] {
            assert!(binds(ok.clone()).is_ok(), "{ok:?}");
        }
        // Values that cannot exist are bad parameters, named.
        let bad = binds(ParameterValue::Date((2026, 2, 30))).unwrap_err();
        assert!(
            bad.contains("BadParameter") && bad.contains("date"),
            "{bad}"
        );
        let bad = binds(ParameterValue::Uuid("nope".into())).unwrap_err();
        assert!(bad.contains("uuid"), "{bad}");
        let bad = binds(ParameterValue::Jsonb(b"{".to_vec())).unwrap_err();
        assert!(bad.contains("jsonb"), "{bad}");
        // What the runner does not convert says what to do instead.
        let bad = binds(ParameterValue::Decimal("1.5".into())).unwrap_err();
        assert!(bad.contains("as text"), "{bad}");
    }

    #[test]
    fn column_types_as_spin_names_them() {
        assert!(matches!(data_type(&Type::INT8), DbDataType::Int64));
        assert!(matches!(data_type(&Type::TEXT), DbDataType::Str));
        assert!(matches!(
            data_type(&Type::TIMESTAMPTZ),
            DbDataType::Timestamp
        ));
        assert!(matches!(data_type(&Type::TIMESTAMP), DbDataType::Datetime));
        // Spin maps neither `name` nor `"char"`: they are other types.
        assert!(matches!(data_type(&Type::NAME), DbDataType::Other(_)));
        assert!(matches!(data_type(&Type::CHAR), DbDataType::Other(_)));
    }

    #[test]
    fn intervals_round_trip_in_postgres_binary_form() {
        let interval = Interval {
            micros: 1_500_000,
            days: -2,
            months: 14,
        };
        let mut out = BytesMut::new();
        PgInterval(interval)
            .to_sql(&Type::INTERVAL, &mut out)
            .unwrap();
        assert_eq!(out.len(), 16);
        let back = PgInterval::from_sql(&Type::INTERVAL, &out).unwrap().0;
        assert_eq!((back.micros, back.days, back.months), (1_500_000, -2, 14));
        assert!(PgInterval::from_sql(&Type::INTERVAL, &out[..8]).is_err());
        // NULL binds to any type.
        assert!(<PgNull as ToSql>::accepts(&Type::UUID));
    }
}
