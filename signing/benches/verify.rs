//! Token verification throughput: what every playlist and segment request through the origin or edge costs.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use marquee_signing::{ClientContext, Grant, KeyRing, SigningKey, TokenError, Verifier};

const NOW: u64 = 1_790_000_000;

fn keys() -> KeyRing {
    let old = SigningKey::new("k1", &[1; 32]).unwrap();
    let current = SigningKey::new("k2", &[2; 32]).unwrap();
    KeyRing::new(vec![old, current], "k2").unwrap()
}

fn verify(c: &mut Criterion) {
    let keys = keys();
    let verifier = Verifier::new(keys.clone());
    let plain = keys.sign(&Grant::new("/film42/", NOW + 3600).unwrap());
    let ip = "192.0.2.7".parse().unwrap();
    let bound =
        keys.sign(&Grant::new("/film42/", NOW + 3600).unwrap().bind_ip(ip).bind_session("0123456789abcdef").unwrap());
    let path = "/film42/video_1080p/seg_00042.m4s";

    let mut group = c.benchmark_group("verify");
    group.throughput(Throughput::Elements(1));
    group.bench_function("valid", |b| {
        b.iter(|| verifier.verify(black_box(&plain), black_box(path), NOW, ClientContext::default()).unwrap())
    });
    let client = ClientContext { ip: Some(ip), session: Some("0123456789abcdef") };
    group.bench_function("valid_ip_and_session", |b| {
        b.iter(|| verifier.verify(black_box(&bound), black_box(path), NOW, client).unwrap())
    });
    let forged = format!("{}A", &plain[..plain.len() - 1]);
    let forged = if forged == plain { format!("{}B", &plain[..plain.len() - 1]) } else { forged };
    group.bench_function("bad_signature", |b| {
        b.iter(|| {
            let result = verifier.verify(black_box(&forged), black_box(path), NOW, ClientContext::default());
            assert!(matches!(result, Err(TokenError::BadSignature | TokenError::Malformed)));
        })
    });
    group.bench_function("garbage", |b| {
        b.iter(|| {
            verifier.verify(black_box("not-a-token"), black_box(path), NOW, ClientContext::default()).unwrap_err()
        })
    });
    group.finish();

    c.bench_function("sign", |b| {
        let grant = Grant::new("/film42/", NOW + 3600).unwrap();
        b.iter(|| keys.sign(black_box(&grant)))
    });
}

criterion_group!(benches, verify);
criterion_main!(benches);
