//! Loads ES modules (client scripts and their imports) through the
//! browser side, so they use the same network stack as everything else.

use deno_core::{
  ModuleLoadOptions, ModuleLoadReferrer, ModuleLoadResponse, ModuleLoader, ModuleResolveResponse,
  ModuleSource, ModuleSourceCode, ModuleSpecifier, ModuleType, ResolutionKind,
};
use deno_error::JsErrorBox;

use crate::ipc::{HostMsg, HostSender, RealmId, Reply};

pub struct HostModuleLoader {
  pub realm: RealmId,
  pub host: HostSender,
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
    let host = self.host.clone();
    let realm = self.realm;
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
