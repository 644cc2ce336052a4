//! A record's body on its way to the disk: batches written off the async
//! threads, in order, with bounded memory; fsynced when complete.

use std::sync::Arc;
use std::time::Instant;

use crate::platform::browser::durability;

/// Streams a body to its file off the async threads: chunks are gathered
/// (not copied) into batches that one blocking task writes in order while
/// the next ones fill, so the network and the disk overlap and memory stays
/// bounded (`QUEUED` + 1 batches per download, whatever the body's size).
/// A batch is sent when it is full or has waited `WRITE_EVERY` (also when
/// no further chunk comes: see `due`), so that a slow or stalled download
/// still reaches the disk (and survives a kill) steadily. Each batch in the
/// file is reported to `on_landed`: what a fetch reports as downloaded is
/// what a restart finds on disk.
pub(super) struct BodyWriter {
  queue: Option<tokio::sync::mpsc::Sender<Vec<bytes::Bytes>>>,
  task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
  batch: Vec<bytes::Bytes>,
  batch_len: usize,
  since: Instant,
  /// Bytes known to be in the file (written by this writer).
  landed: Arc<std::sync::atomic::AtomicU64>,
  pub(super) written: u64,
  /// The file, for `sync` (a second handle: the writer owns the first).
  sync: Option<std::fs::File>,
}

const WRITE_BATCH: usize = 1 << 20;
const QUEUED: usize = 3;
pub(super) const WRITE_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

impl BodyWriter {
  pub(super) fn new(mut file: std::fs::File, on_landed: impl Fn(u64) + Send + 'static) -> Self {
    let sync = file.try_clone().ok();
    let (queue, mut batches) = tokio::sync::mpsc::channel::<Vec<bytes::Bytes>>(QUEUED);
    let landed = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let count = landed.clone();
    let task = tokio::task::spawn_blocking(move || {
      use std::io::Write;
      while let Some(batch) = batches.blocking_recv() {
        durability::reached("bgfetch-body-write");
        for chunk in &batch {
          file.write_all(chunk)?;
        }
        durability::reached("bgfetch-body-write.done");
        let n: usize = batch.iter().map(|c| c.len()).sum();
        count.fetch_add(n as u64, std::sync::atomic::Ordering::Release);
        on_landed(n as u64);
      }
      Ok(())
    });
    BodyWriter {
      queue: Some(queue),
      task: Some(task),
      batch: Vec::new(),
      batch_len: 0,
      since: Instant::now(),
      landed,
      written: 0,
      sync,
    }
  }

  /// When the batch being gathered has waited long enough to be sent even
  /// though no chunk comes (a stalled download); None while it is empty.
  pub(super) fn due(&self) -> Option<Instant> {
    (!self.batch.is_empty()).then(|| self.since + WRITE_EVERY)
  }

  /// Sends the batch being gathered now (see `due`).
  pub(super) async fn flush(&mut self) -> std::io::Result<()> {
    if self.batch.is_empty() {
      return Ok(());
    }
    self.send().await
  }

  /// Adds a chunk; true when more of the body was found written.
  pub(super) async fn push(&mut self, chunk: bytes::Bytes) -> std::io::Result<bool> {
    self.batch_len += chunk.len();
    self.batch.push(chunk);
    if self.batch_len < WRITE_BATCH && self.since.elapsed() < WRITE_EVERY {
      return Ok(false);
    }
    self.send().await?;
    let landed = self.landed.load(std::sync::atomic::Ordering::Acquire);
    let more = landed > self.written;
    self.written = landed;
    Ok(more)
  }

  async fn send(&mut self) -> std::io::Result<()> {
    let batch = std::mem::take(&mut self.batch);
    self.batch_len = 0;
    self.since = Instant::now();
    let queued = match &self.queue {
      Some(q) => q.send(batch).await.is_ok(),
      None => false,
    };
    if queued {
      return Ok(());
    }
    // The writer stopped on an error: that error.
    self.queue = None;
    self.join().await?;
    Err(std::io::Error::other("the body writer stopped"))
  }

  /// Waits for the writer to have written everything sent to it.
  async fn join(&mut self) -> std::io::Result<()> {
    let Some(task) = self.task.take() else {
      return Ok(());
    };
    let result = task.await.map_err(std::io::Error::other)?;
    self.written = self.landed.load(std::sync::atomic::Ordering::Acquire);
    result
  }

  /// Writes what is left and waits until it is in the file.
  pub(super) async fn finish(&mut self) -> std::io::Result<()> {
    if !self.batch.is_empty() {
      self.send().await?;
    }
    // Closing the queue ends the writer once it has written the rest.
    self.queue = None;
    self.join().await
  }

  /// Waits until the file's data is on the disk (fsync), for a body
  /// about to be reported complete.
  pub(super) async fn sync(&mut self) -> std::io::Result<()> {
    let Some(file) = self.sync.take() else {
      return Ok(());
    };
    tokio::task::spawn_blocking(move || {
      durability::around("bgfetch-body-fsync", || file.sync_data())
    })
    .await
    .map_err(std::io::Error::other)?
  }
}
