//! `S3Store`: an object store in an S3 bucket (AWS, or any S3-compatible server such as Garage or MinIO).

use std::env;
use std::error::Error as StdError;
use std::fmt;
use std::ops::Range;
use std::time::SystemTime;

use async_trait::async_trait;
use aws_config::default_provider::credentials::DefaultCredentialsChain;
use aws_sdk_s3::config::{
    BehaviorVersion, Credentials, ProvideCredentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use aws_sdk_s3::Client;
use bytes::Bytes;
use tokio::sync::OnceCell;
use tokio::task::JoinSet;
use tracing::{debug, warn};

use crate::key::split_list_prefix;
use crate::store::{clamp_range, ObjectBody, ObjectRead};
use crate::{MultipartUpload, ObjectKey, ObjectMeta, ObjectStore, StorageError, UploadedPart};

/// The S3 endpoint URL, for S3-compatible servers (`http://127.0.0.1:3900`); unset means AWS.
pub const ENDPOINT_ENV: &str = "MARQUEE_S3_ENDPOINT";
/// The region to sign requests for; takes precedence over `AWS_REGION`.
pub const REGION_ENV: &str = "MARQUEE_S3_REGION";
/// The region when neither [`REGION_ENV`] nor `AWS_REGION` is set. Garage's default `s3_region` too.
pub const DEFAULT_REGION: &str = "us-east-1";

/// Bodies larger than this are uploaded in parts (multipart upload) instead of one PutObject.
pub const DEFAULT_MULTIPART_THRESHOLD: usize = 8 << 20;
/// The size of every part of a multipart upload but the last.
pub const DEFAULT_PART_SIZE: usize = 8 << 20;
/// S3's smallest allowed part (except the last one).
pub const MIN_PART_SIZE: usize = 5 << 20;
/// S3's largest allowed number of parts in one upload.
const MAX_PARTS: usize = 10_000;
/// How many parts of one upload are in flight at once. Parts are slices of the caller's body, so this bounds
/// the requests (and their buffers in the HTTP stack), not copies of the body.
pub const DEFAULT_PARTS_IN_FLIGHT: usize = 4;
/// Keys per ListObjectsV2 page; 1000 is S3's maximum and its default.
pub const DEFAULT_LIST_PAGE_SIZE: i32 = 1000;

/// An access key pair given explicitly, instead of the standard AWS credential chain.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    /// For temporary credentials (STS); `None` for long-lived keys.
    pub session_token: Option<String>,
}

impl fmt::Debug for S3Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("session_token", &self.session_token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// Where an [`S3Store`] keeps its objects and how it reaches them. Building a store from it needs no async
/// runtime and does no I/O, so it works from synchronous startup code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Config {
    /// The bucket, which must exist.
    pub bucket: String,
    /// The key prefix the store lives under, without leading or trailing `/` (`""` for the whole bucket). Key
    /// `a/b` is stored as S3 key `<prefix>/a/b`.
    pub prefix: String,
    /// The endpoint URL of an S3-compatible server; `None` for AWS.
    pub endpoint: Option<String>,
    /// The region requests are signed for. It must equal the server's region (Garage: `s3_region`).
    pub region: String,
    /// Path-style URLs (`http://host/bucket/key`) instead of virtual-hosted ones (`http://bucket.host/key`).
    /// S3-compatible servers usually need them; AWS accepts both.
    pub path_style: bool,
    /// Explicit keys; `None` uses the standard AWS chain (environment, profile files, web identity, ECS,
    /// instance metadata), resolved on the first request.
    pub credentials: Option<S3Credentials>,
    /// Bodies larger than this go up as multipart uploads.
    pub multipart_threshold: usize,
    /// Part size of multipart uploads, at least [`MIN_PART_SIZE`].
    pub part_size: usize,
    /// How many parts of one upload are sent at once.
    pub parts_in_flight: usize,
    /// Keys asked for per ListObjectsV2 request (1 to 1000).
    pub list_page_size: i32,
}

impl S3Config {
    /// A config for `bucket` and `prefix` on AWS, with the standard credential chain and the defaults above.
    /// The bucket and prefix are checked when the store is built.
    pub fn new(bucket: impl Into<String>, prefix: impl Into<String>) -> Self {
        Self {
            bucket: bucket.into(),
            prefix: prefix.into(),
            endpoint: None,
            region: DEFAULT_REGION.to_owned(),
            path_style: false,
            credentials: None,
            multipart_threshold: DEFAULT_MULTIPART_THRESHOLD,
            part_size: DEFAULT_PART_SIZE,
            parts_in_flight: DEFAULT_PARTS_IN_FLIGHT,
            list_page_size: DEFAULT_LIST_PAGE_SIZE,
        }
    }

    /// Parses `s3://bucket/prefix` (the prefix may be empty or end with `/`) and takes the endpoint and region
    /// from `env` ([`ENDPOINT_ENV`], [`REGION_ENV`], then `AWS_REGION`). An endpoint turns on path-style
    /// URLs. Credentials come from the standard AWS chain.
    pub fn from_location(location: &str, env: impl Fn(&str) -> Option<String>) -> Result<Self, StorageError> {
        let (bucket, prefix) = parse_s3_location(location)?;
        let mut config = Self::new(bucket, prefix);
        let set = |name: &str| env(name).filter(|value| !value.trim().is_empty());
        config.endpoint = set(ENDPOINT_ENV);
        config.path_style = config.endpoint.is_some();
        if let Some(region) = set(REGION_ENV).or_else(|| set("AWS_REGION")) {
            config.region = region;
        }
        Ok(config)
    }

    /// [`from_location`](Self::from_location) with the process environment.
    pub fn from_location_and_env(location: &str) -> Result<Self, StorageError> {
        Self::from_location(location, |name| env::var(name).ok())
    }

    /// `s3://bucket/prefix`, or `s3://bucket` for an empty prefix.
    pub fn location(&self) -> String {
        if self.prefix.is_empty() {
            format!("s3://{}", self.bucket)
        } else {
            format!("s3://{}/{}", self.bucket, self.prefix)
        }
    }

    /// Every problem with the config, in one error.
    fn validate(&self) -> Result<(), StorageError> {
        let mut problems = Vec::new();
        if let Err(problem) = validate_bucket(&self.bucket) {
            problems.push(problem);
        }
        if !self.prefix.is_empty() {
            if let Err(StorageError::InvalidKey { reason, .. }) = ObjectKey::parse(&self.prefix) {
                problems.push(format!("the prefix {:?} {reason}", self.prefix));
            }
        }
        if self.region.trim().is_empty() {
            problems.push("the region is empty".to_owned());
        }
        if let Some(endpoint) = &self.endpoint {
            if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
                problems.push(format!("the endpoint {endpoint:?} is not an http:// or https:// URL"));
            }
        }
        if self.part_size < MIN_PART_SIZE {
            problems.push(format!("the part size {} is below S3's minimum of {MIN_PART_SIZE} bytes", self.part_size));
        }
        if self.parts_in_flight == 0 {
            problems.push("parts_in_flight is 0".to_owned());
        }
        if !(1..=1000).contains(&self.list_page_size) {
            problems.push(format!("the list page size {} is not between 1 and 1000", self.list_page_size));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(StorageError::InvalidLocation { location: self.location(), reason: problems.join("; ") })
        }
    }
}

/// Objects in an S3 bucket under a key prefix: key `video_720p/seg_00001.m4s` of the store at
/// `s3://media/films` is the S3 object `films/video_720p/seg_00001.m4s` in bucket `media`.
///
/// `put` uses one PutObject up to [`S3Config::multipart_threshold`] bytes and a multipart upload above it (the
/// upload is aborted if any part fails). S3 makes either atomic: readers see the old object or the whole new
/// one. `list` returns only keys that are valid [`ObjectKey`]s, so objects written by other tools under
/// names such as `a//b` are skipped (and logged).
///
/// Unlike [`LocalDir`](crate::LocalDir), a bucket can hold both `a` and `a/b`.
#[derive(Debug, Clone)]
pub struct S3Store {
    client: Client,
    config: S3Config,
}

impl S3Store {
    /// Builds the client for `config`. No request is made, and no async runtime is needed: an unreachable
    /// endpoint, a missing bucket or bad credentials show up as [`StorageError::Remote`] on the first request.
    pub fn new(config: S3Config) -> Result<Self, StorageError> {
        config.validate()?;
        let region = Region::new(config.region.clone());
        let mut builder = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(region.clone())
            .force_path_style(config.path_style)
            // Checksums only where S3 requires them: Garage rejects the streaming trailer checksums that the
            // SDK sends by default ("Invalid payload signature"); SigV4 still signs a hash of every payload.
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
        if let Some(endpoint) = &config.endpoint {
            builder = builder.endpoint_url(endpoint);
        }
        builder = match &config.credentials {
            Some(keys) => builder.credentials_provider(Credentials::new(
                &keys.access_key_id,
                &keys.secret_access_key,
                keys.session_token.clone(),
                None,
                "marquee-config",
            )),
            None => builder.credentials_provider(StandardChain { region, chain: OnceCell::new() }),
        };
        Ok(Self { client: Client::from_conf(builder.build()), config })
    }

    pub fn config(&self) -> &S3Config {
        &self.config
    }

    pub fn bucket(&self) -> &str {
        &self.config.bucket
    }

    /// The key prefix, without a trailing `/` (`""` for the whole bucket).
    pub fn prefix(&self) -> &str {
        &self.config.prefix
    }

    /// The S3 key of `key`: `<prefix>/<key>`.
    fn s3_key(&self, key: &str) -> String {
        if self.config.prefix.is_empty() {
            key.to_owned()
        } else {
            format!("{}/{key}", self.config.prefix)
        }
    }

    fn remote<E>(&self, op: &'static str, key: &str, error: SdkError<E>) -> StorageError
    where
        E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    {
        let status = error.raw_response().map(|response| response.status().as_u16());
        let detail = match &error {
            SdkError::ServiceError(service) => {
                let err = service.err();
                let status = service.raw().status().as_u16();
                // HEAD answers have no body, so no code or message: the status is all there is.
                match (err.code(), err.message()) {
                    (Some(code), Some(message)) => format!("the service answered {code} (HTTP {status}): {message}"),
                    (Some(code), None) => format!("the service answered {code} (HTTP {status})"),
                    (None, _) => format!("the service answered HTTP {status}"),
                }
            }
            SdkError::DispatchFailure(_) => format!("could not reach the service: {}", causes(&error)),
            SdkError::TimeoutError(_) => "the service did not answer in time".to_owned(),
            SdkError::ResponseError(_) => format!("the response could not be read: {}", causes(&error)),
            _ => causes(&error),
        };
        StorageError::Remote {
            op,
            location: self.config.location(),
            key: key.to_owned(),
            status,
            detail,
            source: Box::new(error),
        }
    }

    async fn put_single(&self, key: &ObjectKey, body: Bytes) -> Result<(), StorageError> {
        self.client
            .put_object()
            .bucket(&self.config.bucket)
            .key(self.s3_key(key.as_str()))
            .content_length(i64::try_from(body.len()).unwrap_or(i64::MAX))
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| self.remote("put", key.as_str(), e))?;
        Ok(())
    }

    async fn put_multipart(&self, key: &ObjectKey, body: Bytes) -> Result<(), StorageError> {
        let s3_key = self.s3_key(key.as_str());
        let created = self
            .client
            .create_multipart_upload()
            .bucket(&self.config.bucket)
            .key(&s3_key)
            .send()
            .await
            .map_err(|e| self.remote("start multipart upload", key.as_str(), e))?;
        let Some(upload_id) = created.upload_id else {
            return Err(self.protocol_error("start multipart upload", key, "no upload id in the answer"));
        };
        match self.upload_parts_and_complete(key, &s3_key, &upload_id, body).await {
            Ok(()) => Ok(()),
            Err(error) => {
                // Otherwise the uploaded parts stay in the bucket, invisible and billed, until a lifecycle rule.
                let aborted = self
                    .client
                    .abort_multipart_upload()
                    .bucket(&self.config.bucket)
                    .key(&s3_key)
                    .upload_id(&upload_id)
                    .send()
                    .await;
                if let Err(abort_error) = aborted {
                    let abort_error = self.remote("abort multipart upload", key.as_str(), abort_error);
                    warn!(key = %key, upload_id, error = %abort_error, "Could not abort a failed multipart upload.");
                }
                Err(error)
            }
        }
    }

    async fn upload_parts_and_complete(
        &self,
        key: &ObjectKey,
        s3_key: &str,
        upload_id: &str,
        body: Bytes,
    ) -> Result<(), StorageError> {
        let part_size = part_size_for(body.len(), self.config.part_size);
        let part_count = body.len().div_ceil(part_size);
        let mut completed = Vec::with_capacity(part_count);
        let mut in_flight = JoinSet::new();
        let mut next_part = 0;
        while next_part < part_count || !in_flight.is_empty() {
            while next_part < part_count && in_flight.len() < self.config.parts_in_flight {
                let start = next_part * part_size;
                // Slices share the caller's buffer: no part is copied.
                let part = body.slice(start..body.len().min(start + part_size));
                let part_number = i32::try_from(next_part + 1).expect("at most 10 000 parts");
                let request = self
                    .client
                    .upload_part()
                    .bucket(&self.config.bucket)
                    .key(s3_key)
                    .upload_id(upload_id)
                    .part_number(part_number)
                    .content_length(i64::try_from(part.len()).unwrap_or(i64::MAX))
                    .body(ByteStream::from(part));
                in_flight.spawn(async move { (part_number, request.send().await) });
                next_part += 1;
            }
            let Some(joined) = in_flight.join_next().await else { break };
            let (part_number, sent) = match joined {
                Ok(done) => done,
                Err(join_error) if join_error.is_panic() => std::panic::resume_unwind(join_error.into_panic()),
                Err(_) => return Err(self.protocol_error("upload part", key, "the part upload was cancelled")),
            };
            // Dropping `in_flight` on an early return cancels the other parts.
            let uploaded = sent.map_err(|e| self.remote("upload part", key.as_str(), e))?;
            completed.push(CompletedPart::builder().part_number(part_number).set_e_tag(uploaded.e_tag).build());
        }
        completed.sort_by_key(|part| part.part_number);
        self.client
            .complete_multipart_upload()
            .bucket(&self.config.bucket)
            .key(s3_key)
            .upload_id(upload_id)
            .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(completed)).build())
            .send()
            .await
            .map_err(|e| self.remote("complete multipart upload", key.as_str(), e))?;
        debug!(key = %key, parts = part_count, "Multipart upload completed.");
        Ok(())
    }

    /// A multipart request's error: `NoSuchUpload` (the upload was completed, aborted or never begun) is
    /// [`StorageError::NotFound`] for the upload's key.
    fn multipart_error<E>(&self, op: &'static str, key: &ObjectKey, error: SdkError<E>) -> StorageError
    where
        E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    {
        if error.code() == Some("NoSuchUpload") || is_not_found(&error) {
            return StorageError::NotFound { key: key.clone() };
        }
        self.remote(op, key.as_str(), error)
    }

    /// The service answered something the S3 protocol does not allow.
    fn protocol_error(&self, op: &'static str, key: &ObjectKey, detail: &'static str) -> StorageError {
        StorageError::Remote {
            op,
            location: self.config.location(),
            key: key.to_string(),
            status: None,
            detail: detail.to_owned(),
            source: detail.into(),
        }
    }
}

#[async_trait]
impl ObjectStore for S3Store {
    async fn put(&self, key: &ObjectKey, body: Bytes) -> Result<(), StorageError> {
        let size = body.len();
        if size > self.config.multipart_threshold {
            self.put_multipart(key, body).await?;
        } else {
            self.put_single(key, body).await?;
        }
        debug!(key = %key, bytes = size, "Object written.");
        Ok(())
    }

    async fn get(&self, key: &ObjectKey) -> Result<Bytes, StorageError> {
        let answer =
            self.client.get_object().bucket(&self.config.bucket).key(self.s3_key(key.as_str())).send().await.map_err(
                |e| match e.as_service_error() {
                    Some(err) if err.is_no_such_key() => StorageError::NotFound { key: key.clone() },
                    _ if is_not_found(&e) => StorageError::NotFound { key: key.clone() },
                    _ => self.remote("get", key.as_str(), e),
                },
            )?;
        let body = answer.body.collect().await.map_err(|e| StorageError::Remote {
            op: "get",
            location: self.config.location(),
            key: key.to_string(),
            status: None,
            detail: format!("the body could not be read: {e}"),
            source: Box::new(e),
        })?;
        Ok(body.into_bytes())
    }

    async fn get_range(&self, key: &ObjectKey, range: Option<Range<u64>>) -> Result<ObjectRead, StorageError> {
        let wanted = match &range {
            // HTTP cannot ask for zero bytes; the size alone says whether the start is inside the object.
            Some(range) if range.end <= range.start => {
                let meta = self.head(key).await?;
                clamp_range(key, Some(range.clone()), meta.size)?;
                return Ok(ObjectRead { meta, body: Box::pin(futures_util::stream::empty()) });
            }
            // An end past the object is fine: S3 clamps it, as we do.
            Some(range) => Some(format!("bytes={}-{}", range.start, range.end - 1)),
            None => None,
        };
        let sent = self
            .client
            .get_object()
            .bucket(&self.config.bucket)
            .key(self.s3_key(key.as_str()))
            .set_range(wanted)
            .send()
            .await;
        let answer = match sent {
            Ok(answer) => answer,
            Err(e) if e.raw_response().is_some_and(|response| response.status().as_u16() == 416) => {
                let size = e
                    .raw_response()
                    .and_then(|response| response.headers().get("content-range"))
                    .and_then(|value| parse_content_range(value).map(|(_, size)| size));
                let size = match size {
                    Some(size) => size,
                    // Not every server says the size in its 416; ask, on this rare path only.
                    None => self.head(key).await?.size,
                };
                return Err(StorageError::RangeNotSatisfiable { key: key.clone(), size });
            }
            Err(e) => {
                return Err(match e.as_service_error() {
                    Some(err) if err.is_no_such_key() => StorageError::NotFound { key: key.clone() },
                    _ if is_not_found(&e) => StorageError::NotFound { key: key.clone() },
                    _ => self.remote("get", key.as_str(), e),
                })
            }
        };
        let modified = answer.last_modified.and_then(|time| SystemTime::try_from(time).ok());
        let length = answer.content_length.and_then(|len| u64::try_from(len).ok());
        let (start, size) = match (answer.content_range.as_deref().and_then(parse_content_range), length) {
            (Some((start, size)), _) => (start, size),
            // No Content-Range: the whole object, whether or not a range was asked for.
            (None, Some(length)) => (0, length),
            (None, None) => return Err(self.protocol_error("get", key, "the answer lacks Content-Length")),
        };
        let Some(modified) = modified else {
            return Err(self.protocol_error("get", key, "the answer lacks Last-Modified"));
        };
        let expected = clamp_range(key, range, size)?;
        if start != expected.start {
            return Err(self.protocol_error("get", key, "the answer's range does not start where asked"));
        }
        let (location, owned_key) = (self.config.location(), key.to_string());
        let body: ObjectBody = Box::pin(futures_util::stream::try_unfold(answer.body, move |mut body| {
            let (location, key) = (location.clone(), owned_key.clone());
            async move {
                match body.next().await {
                    None => Ok(None),
                    Some(Ok(chunk)) => Ok(Some((chunk, body))),
                    Some(Err(e)) => Err(StorageError::Remote {
                        op: "get",
                        location,
                        key,
                        status: None,
                        detail: format!("the body could not be read: {e}"),
                        source: Box::new(e),
                    }),
                }
            }
        }));
        Ok(ObjectRead { meta: ObjectMeta { size, modified }, body })
    }

    async fn head(&self, key: &ObjectKey) -> Result<ObjectMeta, StorageError> {
        let answer =
            self.client.head_object().bucket(&self.config.bucket).key(self.s3_key(key.as_str())).send().await.map_err(
                |e| match e.as_service_error() {
                    Some(err) if err.is_not_found() => StorageError::NotFound { key: key.clone() },
                    _ if is_not_found(&e) => StorageError::NotFound { key: key.clone() },
                    _ => self.remote("head", key.as_str(), e),
                },
            )?;
        let size = answer.content_length.and_then(|len| u64::try_from(len).ok());
        let modified = answer.last_modified.and_then(|time| SystemTime::try_from(time).ok());
        match (size, modified) {
            (Some(size), Some(modified)) => Ok(ObjectMeta { size, modified }),
            _ => Err(self.protocol_error("head", key, "the answer lacks Content-Length or Last-Modified")),
        }
    }

    async fn delete(&self, key: &ObjectKey) -> Result<(), StorageError> {
        // S3 answers 204 whether or not the key held an object, so delete is idempotent by itself.
        let deleted =
            self.client.delete_object().bucket(&self.config.bucket).key(self.s3_key(key.as_str())).send().await;
        match deleted {
            Ok(_) => {}
            // Some S3-compatible servers answer 404 for a missing key; a missing bucket is still an error.
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(self.remote("delete", key.as_str(), e)),
        }
        debug!(key = %key, "Object deleted.");
        Ok(())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectKey>, StorageError> {
        // The same prefix rules as every backend, before any request.
        split_list_prefix(prefix)?;
        let store_prefix =
            if self.config.prefix.is_empty() { String::new() } else { format!("{}/", self.config.prefix) };
        let s3_prefix = format!("{store_prefix}{prefix}");
        let mut keys = Vec::new();
        let mut continuation: Option<String> = None;
        loop {
            let page = self
                .client
                .list_objects_v2()
                .bucket(&self.config.bucket)
                .prefix(&s3_prefix)
                .max_keys(self.config.list_page_size)
                .set_continuation_token(continuation.take())
                .send()
                .await
                .map_err(|e| self.remote("list", prefix, e))?;
            for object in page.contents() {
                let Some(s3_key) = object.key() else { continue };
                let relative = s3_key.strip_prefix(&store_prefix).unwrap_or(s3_key);
                match ObjectKey::parse(relative) {
                    Ok(key) => keys.push(key),
                    Err(_) => warn!(s3_key, "Skipped an S3 object whose name cannot be an object key."),
                }
            }
            match page.next_continuation_token {
                Some(token) if page.is_truncated == Some(true) => continuation = Some(token),
                _ => break,
            }
        }
        // S3 lists in UTF-8 byte order already; sorting keeps the contract whatever the server does.
        keys.sort_unstable();
        keys.dedup();
        Ok(keys)
    }

    async fn begin_multipart(&self, key: &ObjectKey) -> Result<MultipartUpload, StorageError> {
        let created = self
            .client
            .create_multipart_upload()
            .bucket(&self.config.bucket)
            .key(self.s3_key(key.as_str()))
            .send()
            .await
            .map_err(|e| self.remote("start multipart upload", key.as_str(), e))?;
        let Some(upload_id) = created.upload_id else {
            return Err(self.protocol_error("start multipart upload", key, "no upload id in the answer"));
        };
        debug!(key = %key, upload_id, "Multipart upload started.");
        Ok(MultipartUpload { key: key.clone(), upload_id })
    }

    async fn put_part(&self, upload: &MultipartUpload, number: u32, body: Bytes) -> Result<UploadedPart, StorageError> {
        let key = &upload.key;
        let part_number = i32::try_from(number)
            .ok()
            .filter(|n| (1..=10_000).contains(n))
            .ok_or_else(|| self.protocol_error("upload part", key, "part numbers are 1 to 10 000"))?;
        let size = body.len() as u64;
        let uploaded = self
            .client
            .upload_part()
            .bucket(&self.config.bucket)
            .key(self.s3_key(key.as_str()))
            .upload_id(&upload.upload_id)
            .part_number(part_number)
            .content_length(i64::try_from(size).unwrap_or(i64::MAX))
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| self.multipart_error("upload part", key, e))?;
        let Some(etag) = uploaded.e_tag else {
            return Err(self.protocol_error("upload part", key, "no ETag in the answer"));
        };
        debug!(key = %key, upload_id = upload.upload_id, part = number, bytes = size, "Part written.");
        Ok(UploadedPart { number, size, etag })
    }

    async fn list_parts(&self, upload: &MultipartUpload) -> Result<Vec<UploadedPart>, StorageError> {
        let key = &upload.key;
        let mut parts = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let page = self
                .client
                .list_parts()
                .bucket(&self.config.bucket)
                .key(self.s3_key(key.as_str()))
                .upload_id(&upload.upload_id)
                .set_part_number_marker(marker.take())
                .send()
                .await
                .map_err(|e| self.multipart_error("list parts", key, e))?;
            for part in page.parts() {
                let number = part.part_number().and_then(|n| u32::try_from(n).ok());
                let size = part.size().and_then(|n| u64::try_from(n).ok());
                match (number, size, part.e_tag()) {
                    (Some(number), Some(size), Some(etag)) => {
                        parts.push(UploadedPart { number, size, etag: etag.to_owned() });
                    }
                    _ => return Err(self.protocol_error("list parts", key, "a part lacks its number, size or ETag")),
                }
            }
            match page.next_part_number_marker {
                Some(next) if page.is_truncated == Some(true) => marker = Some(next),
                _ => break,
            }
        }
        parts.sort_by_key(|part| part.number);
        parts.dedup_by_key(|part| part.number);
        Ok(parts)
    }

    async fn complete_multipart(&self, upload: &MultipartUpload, parts: &[UploadedPart]) -> Result<(), StorageError> {
        let key = &upload.key;
        let completed = parts
            .iter()
            .map(|part| {
                let number = i32::try_from(part.number).unwrap_or(i32::MAX);
                CompletedPart::builder().part_number(number).e_tag(&part.etag).build()
            })
            .collect();
        self.client
            .complete_multipart_upload()
            .bucket(&self.config.bucket)
            .key(self.s3_key(key.as_str()))
            .upload_id(&upload.upload_id)
            .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(completed)).build())
            .send()
            .await
            .map_err(|e| self.multipart_error("complete multipart upload", key, e))?;
        debug!(key = %key, upload_id = upload.upload_id, parts = parts.len(), "Multipart upload completed.");
        Ok(())
    }

    async fn abort_multipart(&self, upload: &MultipartUpload) -> Result<(), StorageError> {
        let key = &upload.key;
        let aborted = self
            .client
            .abort_multipart_upload()
            .bucket(&self.config.bucket)
            .key(self.s3_key(key.as_str()))
            .upload_id(&upload.upload_id)
            .send()
            .await;
        match aborted.map_err(|e| self.multipart_error("abort multipart upload", key, e)) {
            Ok(_) | Err(StorageError::NotFound { .. }) => {}
            Err(error) => return Err(error),
        }
        debug!(key = %key, upload_id = upload.upload_id, "Multipart upload aborted.");
        Ok(())
    }

    fn location(&self) -> String {
        self.config.location()
    }
}

/// The messages of `error`'s causes, outermost first, skipping the SDK's generic outer layers.
fn causes(error: &(dyn StdError + 'static)) -> String {
    let mut messages: Vec<String> = Vec::new();
    let mut next = error.source();
    while let Some(cause) = next {
        let message = cause.to_string();
        // Layers often repeat their source's message; keep each once.
        if !messages.last().is_some_and(|last| last.contains(&message)) {
            messages.push(message);
        }
        next = cause.source();
    }
    if messages.is_empty() {
        error.to_string()
    } else {
        messages.join(": ")
    }
}

/// The part size for a body of `len` bytes: `preferred`, grown when the body would need more than S3's
/// 10 000 parts.
fn part_size_for(len: usize, preferred: usize) -> usize {
    preferred.max(len.div_ceil(MAX_PARTS))
}

/// A 404 about the key. A missing bucket is a 404 too, but it is a configuration error, not a missing object
/// (HEAD answers carry no error code, so `head` cannot tell the two apart).
fn is_not_found<E: ProvideErrorMetadata>(error: &SdkError<E>) -> bool {
    let status_404 = error.raw_response().is_some_and(|response| response.status().as_u16() == 404);
    status_404 && error.code() != Some("NoSuchBucket")
}

/// `(first byte, whole size)` of a Content-Range: `bytes 0-99/1000` or, in a 416, `bytes */1000` (first byte 0).
fn parse_content_range(value: &str) -> Option<(u64, u64)> {
    let (range, size) = value.trim().strip_prefix("bytes ")?.split_once('/')?;
    let size = size.trim().parse().ok()?;
    let start = if range == "*" { 0 } else { range.split_once('-')?.0.trim().parse().ok()? };
    Some((start, size))
}

/// `("bucket", "prefix")` for `s3://bucket/prefix/`.
pub(crate) fn parse_s3_location(location: &str) -> Result<(String, String), StorageError> {
    let invalid = |reason: String| StorageError::InvalidLocation { location: location.to_owned(), reason };
    let rest = location
        .split_once(':')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("s3"))
        .and_then(|(_, rest)| rest.strip_prefix("//"))
        .ok_or_else(|| invalid("an S3 location is written `s3://bucket` or `s3://bucket/prefix`".to_owned()))?;
    if rest.contains(['?', '#']) {
        return Err(invalid("an S3 location cannot have a query or fragment".to_owned()));
    }
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    validate_bucket(bucket).map_err(invalid)?;
    let trimmed = prefix.strip_suffix('/').unwrap_or(prefix);
    if trimmed.is_empty() && !prefix.is_empty() {
        return Err(invalid("the prefix has an empty segment (`//`)".to_owned()));
    }
    let prefix = trimmed;
    if !prefix.is_empty() {
        if let Err(StorageError::InvalidKey { reason, .. }) = ObjectKey::parse(prefix) {
            return Err(invalid(format!("the prefix {prefix:?} {reason}")));
        }
    }
    Ok((bucket.to_owned(), prefix.to_owned()))
}

/// S3's bucket naming rules: 3 to 63 lowercase letters, digits, `-` and `.`, starting and ending with a letter
/// or digit.
fn validate_bucket(bucket: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.';
    let edge_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if bucket.is_empty() {
        return Err("the bucket name is empty; write `s3://bucket` or `s3://bucket/prefix`".to_owned());
    }
    if !(3..=63).contains(&bucket.len())
        || !bucket.chars().all(allowed)
        || !edge_ok(bucket.chars().next())
        || !edge_ok(bucket.chars().last())
    {
        return Err(format!(
            "{bucket:?} is not a valid bucket name (3 to 63 lowercase letters, digits, `-` and `.`, starting and \
             ending with a letter or digit)"
        ));
    }
    Ok(())
}

/// The standard AWS credential chain, built on the first request: building it is async, and a store is built
/// in synchronous startup code.
#[derive(Debug)]
struct StandardChain {
    region: Region,
    chain: OnceCell<DefaultCredentialsChain>,
}

impl ProvideCredentials for StandardChain {
    fn provide_credentials<'a>(&'a self) -> aws_credential_types::provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        aws_credential_types::provider::future::ProvideCredentials::new(async move {
            let chain =
                self.chain.get_or_init(|| DefaultCredentialsChain::builder().region(self.region.clone()).build()).await;
            chain.provide_credentials().await
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn content_ranges_give_the_first_byte_and_the_whole_size() {
        assert_eq!(parse_content_range("bytes 0-99/1000"), Some((0, 1000)));
        assert_eq!(parse_content_range("bytes 500-999/1000"), Some((500, 1000)));
        assert_eq!(parse_content_range("bytes */1000"), Some((0, 1000)));
        assert_eq!(parse_content_range("bytes 0-0/*"), None, "an unknown size is no size");
        assert_eq!(parse_content_range("items 0-9/10"), None);
        assert_eq!(parse_content_range("bytes 5/10"), None);
    }

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn locations_split_into_bucket_and_prefix() {
        let parse = |l| parse_s3_location(l).unwrap();
        assert_eq!(parse("s3://media"), ("media".to_owned(), String::new()));
        assert_eq!(parse("s3://media/"), ("media".to_owned(), String::new()));
        assert_eq!(parse("s3://media/films"), ("media".to_owned(), "films".to_owned()));
        assert_eq!(parse("S3://media/films/2026/"), ("media".to_owned(), "films/2026".to_owned()));
        assert_eq!(parse("s3://my.bucket-1/a"), ("my.bucket-1".to_owned(), "a".to_owned()));
    }

    #[test]
    fn bad_locations_say_what_is_wrong() {
        for (location, expected) in [
            ("s3:bucket", "s3://bucket/prefix"),
            ("s3://", "bucket name is empty"),
            ("s3:///prefix", "bucket name is empty"),
            ("s3://Bucket", "not a valid bucket name"),
            ("s3://ab", "not a valid bucket name"),
            ("s3://-ab", "not a valid bucket name"),
            ("s3://b_c", "not a valid bucket name"),
            ("s3://bucket/../x", "has a `..` segment"),
            ("s3://bucket/a//b", "empty segment"),
            ("s3://bucket//", "empty segment"),
            ("s3://bucket/a?x=1", "query"),
        ] {
            match parse_s3_location(location) {
                Err(StorageError::InvalidLocation { location: l, reason }) => {
                    assert_eq!(l, location);
                    assert!(reason.contains(expected), "{location}: {reason}");
                }
                other => panic!("{location}: {other:?}"),
            }
        }
    }

    #[test]
    fn environment_sets_endpoint_region_and_path_style() {
        let aws = S3Config::from_location("s3://media/films", env_of(&[])).unwrap();
        assert_eq!((aws.endpoint.as_deref(), aws.region.as_str(), aws.path_style), (None, "us-east-1", false));
        assert_eq!(aws.credentials, None);

        let garage = S3Config::from_location(
            "s3://media/films",
            env_of(&[(ENDPOINT_ENV, "http://127.0.0.1:3900"), ("AWS_REGION", "garage")]),
        )
        .unwrap();
        assert_eq!(garage.endpoint.as_deref(), Some("http://127.0.0.1:3900"));
        assert_eq!((garage.region.as_str(), garage.path_style), ("garage", true));

        let both = env_of(&[(REGION_ENV, "eu-west-3"), ("AWS_REGION", "garage"), (ENDPOINT_ENV, " ")]);
        let config = S3Config::from_location("s3://media", both).unwrap();
        assert_eq!((config.region.as_str(), config.endpoint.as_deref()), ("eu-west-3", None));
        assert_eq!(config.location(), "s3://media");
    }

    #[test]
    fn invalid_configs_report_every_problem_at_once() {
        let mut config = S3Config::new("media", "ok");
        config.endpoint = Some("127.0.0.1:3900".to_owned());
        config.part_size = 1 << 20;
        config.list_page_size = 0;
        config.parts_in_flight = 0;
        let Err(StorageError::InvalidLocation { location, reason }) = S3Store::new(config) else { panic!("accepted") };
        assert_eq!(location, "s3://media/ok");
        for expected in ["endpoint", "part size", "parts_in_flight", "list page size"] {
            assert!(reason.contains(expected), "{expected}: {reason}");
        }
    }

    #[test]
    fn a_store_is_built_without_a_runtime_and_maps_keys_under_its_prefix() {
        let store = S3Store::new(S3Config::new("media", "films/2026")).unwrap();
        assert_eq!(store.s3_key("v/seg_1.m4s"), "films/2026/v/seg_1.m4s");
        assert_eq!(store.location(), "s3://media/films/2026");
        let whole_bucket = S3Store::new(S3Config::new("media", "")).unwrap();
        assert_eq!(whole_bucket.s3_key("v/seg_1.m4s"), "v/seg_1.m4s");
        assert_eq!(whole_bucket.location(), "s3://media");
    }

    #[test]
    fn part_size_grows_only_past_ten_thousand_parts() {
        assert_eq!(part_size_for(20 << 20, DEFAULT_PART_SIZE), DEFAULT_PART_SIZE);
        let huge = 200usize << 30;
        let size = part_size_for(huge, DEFAULT_PART_SIZE);
        assert!(huge.div_ceil(size) <= MAX_PARTS && size > DEFAULT_PART_SIZE);
    }

    #[test]
    fn credentials_debug_hides_the_secret() {
        let keys = S3Credentials {
            access_key_id: "GK0123".to_owned(),
            secret_access_key: "very-secret".to_owned(),
            session_token: Some("token".to_owned()),
        };
        let shown = format!("{keys:?}");
        assert!(shown.contains("GK0123") && !shown.contains("very-secret") && !shown.contains("token\""), "{shown}");
    }
}
