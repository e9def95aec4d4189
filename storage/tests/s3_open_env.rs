//! `open("s3://…")` configured from the environment, against a real Garage. Its own test binary, because it
//! sets process environment variables.

mod support;

use marquee_storage::{open, Bytes, ObjectKey, StorageError};
use support::garage::{Garage, BUCKET, REGION};

#[test]
fn open_takes_endpoint_region_and_credentials_from_the_environment() {
    let garage = Garage::start();
    let keys = garage.credentials();
    // The only test in this binary, so no other thread reads the environment while it changes.
    std::env::set_var("MARQUEE_S3_ENDPOINT", garage.endpoint());
    std::env::set_var("MARQUEE_S3_REGION", REGION);
    std::env::set_var("AWS_ACCESS_KEY_ID", &keys.access_key_id);
    std::env::set_var("AWS_SECRET_ACCESS_KEY", &keys.secret_access_key);
    std::env::remove_var("AWS_SESSION_TOKEN");
    std::env::remove_var("AWS_PROFILE");
    // Should the chain ever get past the environment, fail fast instead of waiting for instance metadata.
    std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");

    // Opened before any runtime exists, as the CLI does.
    let location = format!("s3://{BUCKET}/from-env/");
    let store = open(&location).unwrap();
    assert_eq!(store.location(), format!("s3://{BUCKET}/from-env"));

    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let object = ObjectKey::parse("master.m3u8").unwrap();
        // The bucket appears a moment after the port opens.
        let mut attempts = 0;
        while let Err(error) = store.list("").await {
            attempts += 1;
            assert!(attempts < 200, "the bucket never answered: {error}\n{}", garage.log_tail());
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        store.put(&object, Bytes::from_static(b"#EXTM3U\n")).await.unwrap();
        assert_eq!(store.get(&object).await.unwrap(), Bytes::from_static(b"#EXTM3U\n"));
        assert_eq!(store.list("").await.unwrap(), std::slice::from_ref(&object));

        // The location opens the same objects again.
        let again = open(&store.location()).unwrap();
        assert_eq!(again.get(&object).await.unwrap(), Bytes::from_static(b"#EXTM3U\n"));

        // A wrong key from the environment is the service's refusal, naming the key.
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "0".repeat(64));
        let refused = open(&location).unwrap();
        let error = refused.get(&object).await.unwrap_err();
        assert!(
            matches!(&error, StorageError::Remote { status: Some(403), key, .. } if key == "master.m3u8"),
            "{error:?}"
        );
    });
}
