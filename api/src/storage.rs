//! Where attachment bytes live: an [`object_store`] — a local folder by default, or an S3
//! bucket (AWS or any S3-compatible server) that several instances share — chosen by
//! `CRM_STORAGE_URL`. Objects are content-addressed: the key of a file is `sha256/<hex of
//! its SHA-256>`, so storing the same bytes again writes nothing new and a key always
//! names the same bytes. The database says which keys are in use (`attachment_blobs`);
//! this module only moves bytes.

use std::io::{Read, Seek};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::local::LocalFileSystem;
use object_store::path::Path as Key;
use object_store::prefix::PrefixStore;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};
use tokio::io::AsyncReadExt;

use crate::config::Config;

/// The folder attachments go to when `CRM_STORAGE_URL` is not set (relative to the working
/// directory, beside the embedded database).
pub const DEFAULT_FOLDER: &str = "crm-attachments";

/// Files up to this size are sent in one request; larger ones in parts of this size
/// (S3's smallest part is 5 MiB), read from the upload's temporary file as they go.
const PART_BYTES: usize = 8 * 1024 * 1024;

/// Parts of one file in flight at once.
const PARTS_IN_FLIGHT: usize = 2;

/// A failure of the object store (logged by the caller; clients see `INTERNAL`).
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// No object under the key.
    #[error("object {0} not found")]
    NotFound(String),
    /// Anything else: I/O, the network, the server's answer.
    #[error("object storage: {0}")]
    Store(String),
}

impl From<object_store::Error> for StorageError {
    fn from(e: object_store::Error) -> Self {
        match e {
            object_store::Error::NotFound { path, .. } => Self::NotFound(path),
            other => Self::Store(other.to_string()),
        }
    }
}

impl From<std::io::Error> for StorageError {
    fn from(e: std::io::Error) -> Self {
        Self::Store(format!("reading the upload: {e}"))
    }
}

/// A stored file being read: its size and its bytes as they arrive.
pub struct Download {
    /// Bytes.
    pub size: u64,
    /// The bytes, in order, chunk by chunk.
    pub stream: BoxStream<'static, Result<axum::body::Bytes, StorageError>>,
}

/// The attachment store: content-addressed objects in one bucket or folder.
#[derive(Clone)]
pub struct Storage {
    store: Arc<dyn ObjectStore>,
    /// Where, for logs (never credentials).
    place: String,
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Storage")
            .field("place", &self.place)
            .finish()
    }
}

impl Storage {
    /// The store `CRM_STORAGE_URL` names: `s3://bucket[/prefix]` (credentials, region and
    /// endpoint from the `AWS_*` variables), `file:///absolute/path`, a plain folder path,
    /// or by default [`DEFAULT_FOLDER`] in the working directory. Nothing is created or
    /// contacted here: a local folder is made by the first upload.
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        match config.storage_url.as_deref().map(str::trim) {
            None | Some("") => Self::local(DEFAULT_FOLDER),
            Some(url) if url.starts_with("s3://") => {
                Self::s3_with(AmazonS3Builder::from_env(), url, std::iter::empty())
            }
            Some(url) if url.starts_with("file://") => {
                let path = &url["file://".len()..];
                if !path.starts_with('/') {
                    bail!("CRM_STORAGE_URL: a file URL needs an absolute path (file:///srv/crm)");
                }
                Self::local(path)
            }
            Some(url) if url.contains("://") => {
                bail!(
                    "CRM_STORAGE_URL: unsupported scheme in {url:?} (use file://, s3:// or a path)"
                )
            }
            Some(path) => Self::local(path),
        }
    }

    /// Files under folder `dir` (made, with its parents, when the first file is stored).
    pub fn local(dir: impl AsRef<Path>) -> anyhow::Result<Self> {
        let dir: PathBuf = std::path::absolute(dir.as_ref())
            .with_context(|| format!("attachment folder {}", dir.as_ref().display()))?;
        let prefix = Key::from_absolute_path(&dir)
            .with_context(|| format!("attachment folder {}", dir.display()))?;
        // The root store creates missing folders as it writes; the prefix keeps every key
        // inside `dir`.
        let store = PrefixStore::new(LocalFileSystem::new(), prefix);
        Ok(Self {
            store: Arc::new(store),
            place: dir.display().to_string(),
        })
    }

    /// Objects in the S3 bucket of `url` (`s3://bucket[/prefix]`), configured by `options`
    /// only — `AmazonS3ConfigKey` names such as `aws_access_key_id`, `aws_region`,
    /// `aws_endpoint`, `aws_allow_http` — not by the process environment (tests run
    /// several servers in one process).
    pub fn s3<'a>(
        url: &str,
        options: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> anyhow::Result<Self> {
        Self::s3_with(AmazonS3Builder::new(), url, options)
    }

    fn s3_with<'a>(
        mut builder: AmazonS3Builder,
        url: &str,
        options: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> anyhow::Result<Self> {
        install_crypto_provider();
        let rest = url
            .strip_prefix("s3://")
            .context("an S3 URL starts with s3://")?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            bail!("CRM_STORAGE_URL: no bucket in {url:?}");
        }
        for (key, value) in options {
            let key: AmazonS3ConfigKey = key
                .parse()
                .with_context(|| format!("unknown S3 option {key}"))?;
            builder = builder.with_config(key, value);
        }
        let s3 = builder
            .with_bucket_name(bucket)
            .build()
            .with_context(|| format!("S3 storage {url}"))?;
        let prefix = prefix.trim_matches('/');
        let store: Arc<dyn ObjectStore> = if prefix.is_empty() {
            Arc::new(s3)
        } else {
            let prefix = Key::parse(prefix).with_context(|| format!("S3 prefix in {url}"))?;
            Arc::new(PrefixStore::new(s3, prefix))
        };
        Ok(Self {
            store,
            place: format!("s3://{bucket}/{prefix}"),
        })
    }

    /// Where the files are (no credentials), for logs and errors.
    pub fn place(&self) -> &str {
        &self.place
    }

    /// The key of the file whose SHA-256 is `sha256` (lowercase hex).
    pub fn key(sha256: &str) -> Key {
        Key::from(format!("sha256/{sha256}"))
    }

    /// Whether the file `sha256` is stored.
    pub async fn exists(&self, sha256: &str) -> Result<bool, StorageError> {
        match self.store.head(&Self::key(sha256)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Stores the `size` bytes of `file` (from its start) as the file `sha256`, which the
    /// caller computed from the same bytes. Small files go in one request; larger ones in
    /// parts read from `file` as they are sent, never whole in memory. An existing object
    /// is replaced by the same bytes, atomically.
    pub async fn put_file(
        &self,
        sha256: &str,
        file: &std::fs::File,
        size: u64,
    ) -> Result<(), StorageError> {
        let key = Self::key(sha256);
        let mut file = file.try_clone()?;
        file.rewind()?;
        if size <= PART_BYTES as u64 {
            let bytes = tokio::task::spawn_blocking(move || {
                let mut bytes = Vec::with_capacity(size as usize);
                file.take(size).read_to_end(&mut bytes).map(|_| bytes)
            })
            .await
            .map_err(|e| StorageError::Store(format!("reading the upload: {e}")))??;
            self.store.put(&key, PutPayload::from(bytes)).await?;
            return Ok(());
        }
        let mut reader = tokio::fs::File::from_std(file).take(size);
        let mut upload =
            WriteMultipart::new_with_chunk_size(self.store.put_multipart(&key).await?, PART_BYTES);
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = match reader.read(&mut buf).await {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) => {
                    let _ = upload.abort().await;
                    return Err(e.into());
                }
            };
            if let Err(e) = upload.wait_for_capacity(PARTS_IN_FLIGHT).await {
                let _ = upload.abort().await;
                return Err(e.into());
            }
            upload.write(&buf[..n]);
        }
        upload.finish().await?;
        Ok(())
    }

    /// Reads the file `sha256` as a stream of chunks (never whole in memory).
    pub async fn get(&self, sha256: &str) -> Result<Download, StorageError> {
        let got = self.store.get(&Self::key(sha256)).await?;
        let size = got.meta.size;
        let stream = got.into_stream().map(|r| r.map_err(StorageError::from));
        Ok(Download {
            size,
            stream: stream.boxed(),
        })
    }

    /// Removes the file `sha256`; one that is not there is already removed.
    pub async fn delete(&self, sha256: &str) -> Result<(), StorageError> {
        match self.store.delete(&Self::key(sha256)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

/// The S3 client speaks TLS through rustls, built without a bundled provider: ring (which
/// the server links already) becomes the process default, once. Another crate may have
/// installed one first; any provider serves.
fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_content_addressed() {
        let hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(Storage::key(hex).as_ref(), format!("sha256/{hex}"));
    }

    #[test]
    fn urls_choose_the_store() {
        let mut config = Config::for_database("sqlite::memory:");
        config.storage_url = Some("file:///tmp/crm-files".into());
        assert_eq!(
            Storage::from_config(&config).unwrap().place(),
            "/tmp/crm-files"
        );
        config.storage_url = Some("file://relative".into());
        assert!(Storage::from_config(&config).is_err());
        config.storage_url = Some("ftp://host/x".into());
        assert!(Storage::from_config(&config).is_err());
        config.storage_url = Some("s3://".into());
        assert!(Storage::from_config(&config).is_err());
        let s3 = Storage::s3(
            "s3://bucket/some/prefix",
            [
                ("aws_region", "us-east-1"),
                ("aws_access_key_id", "k"),
                ("aws_secret_access_key", "s"),
            ],
        )
        .unwrap();
        assert_eq!(s3.place(), "s3://bucket/some/prefix");
        assert!(Storage::s3("s3://bucket", [("no_such_option", "x")]).is_err());
    }
}
