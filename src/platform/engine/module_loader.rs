//! Loads ES modules (client scripts and their imports) through the
//! browser side, so they use the same network stack as everything else.

use deno_core::{
  ModuleLoadOptions, ModuleLoadReferrer, ModuleLoadResponse, ModuleLoader, ModuleResolveResponse,
  ModuleSource, ModuleSourceCode, ModuleSpecifier, ModuleType, ResolutionKind,
};
use deno_error::JsErrorBox;

use crate::platform::ipc::{HostMsg, HostSender, RealmId, Reply};

/// The realm and browser link a loader fetches through; set once, when a
/// runtime made ahead of its realm (`realm::prewarm`) gets its realm.
pub type LoaderTarget = std::rc::Rc<std::cell::OnceCell<(RealmId, HostSender)>>;

pub struct HostModuleLoader {
  target: LoaderTarget,
}

impl HostModuleLoader {
  pub fn new(realm: RealmId, host: HostSender) -> Self {
    let target = LoaderTarget::default();
    let _ = target.set((realm, host));
    Self { target }
  }

  /// A loader for a realm not known yet, and the cell that names it later.
  pub fn unbound() -> (Self, LoaderTarget) {
    let target = LoaderTarget::default();
    (
      Self {
        target: target.clone(),
      },
      target,
    )
  }
}

impl ModuleLoader for HostModuleLoader {
  fn resolve(
    &self,
    specifier: &str,
    referrer: &str,
    _kind: ResolutionKind,
  ) -> ModuleResolveResponse {
    deno_core::resolve_import(specifier, referrer).map_err(JsErrorBox::from_err)
  }

  fn load(
    &self,
    specifier: &ModuleSpecifier,
    _referrer: Option<&ModuleLoadReferrer>,
    _options: ModuleLoadOptions,
  ) -> ModuleLoadResponse {
    let specifier = specifier.clone();
    let Some((realm, host)) = self.target.get().cloned() else {
      return ModuleLoadResponse::Sync(Err(JsErrorBox::type_error("the realm has not started")));
    };
    ModuleLoadResponse::Async(Box::pin(async move {
      let (tx, rx) = tokio::sync::oneshot::channel();
      host
        .send(HostMsg::Call {
          realm,
          method: "browser.fetchModule".into(),
          args: serde_json::json!({ "url": specifier.as_str() }),
          reply: Reply::Async(tx),
        })
        .map_err(|_| JsErrorBox::type_error("the browser has shut down"))?;
      let source = rx
        .await
        .map_err(|_| JsErrorBox::type_error("the browser has shut down"))?
        .map_err(|e| JsErrorBox::type_error(e.message))?;
      let source = source.as_str().unwrap_or_default().to_string();
      Ok(ModuleSource::new(
        ModuleType::JavaScript,
        ModuleSourceCode::String(source.into()),
        &specifier,
        None,
      ))
    }))
  }
}
