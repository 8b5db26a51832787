//! The rate limit of the public routes: a token bucket per client address, in memory.

use crate::error::ApiError;
use crate::state::AppState;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, ResponseError};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

/// The paths the limit applies to.
pub const PUBLIC_PREFIX: &str = "/v1/public/";

/// Tokens are counted in millionths, so that a refill of `per_sec` tokens a second is exactly
/// `per_sec` millionths a microsecond and nothing is lost to rounding.
const MICRO: u128 = 1_000_000;

/// A token bucket per client address: `burst` requests at once, then `per_sec` a second. A
/// restart forgets the buckets and several instances would each keep their own, like the login
/// throttle.
pub struct RateLimiter {
    per_sec: u128,
    burst: u128,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

struct Bucket {
    /// Millionths of a token.
    tokens: u128,
    at: Instant,
}

impl RateLimiter {
    /// Addresses tracked at most; beyond, the buckets that have refilled are forgotten (a full
    /// bucket is the same as none).
    const MAX_TRACKED: usize = 100_000;

    /// `per_sec` and `burst` are at least 1 (the configuration checks it).
    pub fn new(per_sec: u32, burst: u32) -> Self {
        Self {
            per_sec: u128::from(per_sec.max(1)),
            burst: u128::from(burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    fn refilled(&self, b: &Bucket, now: Instant) -> u128 {
        let elapsed = now.saturating_duration_since(b.at).as_micros();
        b.tokens
            .saturating_add(elapsed.saturating_mul(self.per_sec))
            .min(self.burst * MICRO)
    }

    /// Takes one token for `ip`, or says how many whole seconds to wait for the next one.
    pub fn take(&self, ip: IpAddr) -> Result<(), u64> {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        if buckets.len() >= Self::MAX_TRACKED && !buckets.contains_key(&ip) {
            let full = self.burst * MICRO;
            buckets.retain(|_, b| self.refilled(b, now) < full);
            if buckets.len() >= Self::MAX_TRACKED {
                buckets.clear();
            }
        }
        let full = self.burst * MICRO;
        let bucket = buckets.entry(ip).or_insert(Bucket {
            tokens: full,
            at: now,
        });
        bucket.tokens = self.refilled(bucket, now);
        bucket.at = now;
        if bucket.tokens >= MICRO {
            bucket.tokens -= MICRO;
            return Ok(());
        }
        let wait_micros = (MICRO - bucket.tokens).div_ceil(self.per_sec);
        Err(u64::try_from(wait_micros.div_ceil(MICRO))
            .unwrap_or(u64::MAX)
            .max(1))
    }
}

/// Middleware: a request to a public route takes a token from its client's bucket (the TCP
/// peer, so behind a reverse proxy every client shares the proxy's bucket), or is answered 429
/// with `Retry-After`.
pub async fn public_routes(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    if req.path().starts_with(PUBLIC_PREFIX) {
        let limited = match (req.app_data::<web::Data<AppState>>(), req.peer_addr()) {
            (Some(state), Some(peer)) => state.public_limit.take(peer.ip()).err(),
            _ => None,
        };
        if let Some(retry_after_secs) = limited {
            let res = ApiError::TooManyRequests { retry_after_secs }.error_response();
            return Ok(req.into_response(res).map_into_right_body());
        }
    }
    Ok(next.call(req).await?.map_into_left_body())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_the_burst_then_refuses_until_refilled() {
        let l = RateLimiter::new(1, 3);
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        for _ in 0..3 {
            assert_eq!(l.take(a), Ok(()));
        }
        assert_eq!(l.take(a), Err(1));
        assert_eq!(l.take(b), Ok(()));
        // A second later one token is back.
        if let Ok(mut m) = l.buckets.lock() {
            if let Some(bucket) = m.get_mut(&a) {
                bucket.at -= std::time::Duration::from_millis(1001);
            }
        }
        assert_eq!(l.take(a), Ok(()));
        assert_eq!(l.take(a), Err(1));
    }
}
