//! The answers an operation may get from the layers a request passes before and around its handler, rather
//! than from the handler itself: the JSON, path and query extractors (400, 413, 415), the caller's credential
//! (401) and, for signed-in callers, the `Idempotency-Key` middleware (its header, 400, 409, 422). [`LayerResponses`] adds them to
//! every operation of the OpenAPI document from what the operation declares, so each `#[utoipa::path]` lists
//! only its handler's own answers and no operation (today's or one added later) misses these.

use utoipa::openapi::path::{Operation, Parameter, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{Content, Ref, RefOr, Required, Response};
use utoipa::Modify;

use crate::idempotency::{IDEMPOTENCY_KEY, MAX_KEY_LENGTH};

/// Adds the layers' answers (and the `Idempotency-Key` header) to every operation that can get them.
#[derive(Debug, Clone, Copy)]
pub struct LayerResponses;

impl Modify for LayerResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in &mut openapi.paths.paths {
            let operations = [
                ("GET", &mut item.get),
                ("PUT", &mut item.put),
                ("POST", &mut item.post),
                ("DELETE", &mut item.delete),
                ("OPTIONS", &mut item.options),
                ("HEAD", &mut item.head),
                ("PATCH", &mut item.patch),
                ("TRACE", &mut item.trace),
            ];
            for (method, operation) in operations {
                if let Some(operation) = operation {
                    add_layer_answers(method, path, operation);
                }
            }
        }
    }
}

/// Whether the idempotency middleware handles requests of `method` to `path` (see [`crate::idempotency`]).
fn idempotent(method: &str, path: &str) -> bool {
    matches!(method, "POST" | "PUT" | "PATCH" | "DELETE") && !path.starts_with("/v1/uploads")
}

fn add_layer_answers(method: &str, path: &str, operation: &mut Operation) {
    let json_body = operation.request_body.as_ref().is_some_and(|body| body.content.contains_key("application/json"));
    let parameters = operation.parameters.as_deref().unwrap_or_default();
    let has_parameter = |place: fn(&ParameterIn) -> bool| parameters.iter().any(|p| place(&p.parameter_in));
    let path_or_query = has_parameter(|p| matches!(p, ParameterIn::Path | ParameterIn::Query));
    // Without an "everyone" alternative (`{}`), a credential is required; with one, a wrong credential is
    // still refused.
    let authenticated = operation.security.as_ref().is_some_and(|requirements| {
        requirements.iter().any(|r| serde_json::to_value(r).is_ok_and(|v| v.as_object().is_some_and(|o| !o.is_empty())))
    });
    // Keys are a signed-in caller's: requests of operations nobody signs in for are never idempotent.
    let idempotent = authenticated && idempotent(method, path);

    let head = method == "HEAD";
    let mut add = |status: &str, description: &str| {
        let responses = &mut operation.responses.responses;
        if !responses.contains_key(status) {
            responses.insert(status.to_owned(), RefOr::T(error_response(description, head)));
        }
    };
    if json_body || path_or_query || idempotent {
        add("400", "the request is not valid: its JSON, a field, the path or the query; `code` says which");
    }
    if authenticated {
        add("401", "no credential, or one that is unknown, expired, revoked or forged");
    }
    if json_body || idempotent {
        add("413", "the request body is larger than the API accepts");
    }
    if json_body {
        add("415", "the body is not sent as `Content-Type: application/json`");
    }
    if idempotent {
        add("409", "a request with this Idempotency-Key is still running, or its answer held a secret shown once");
        add("422", "this Idempotency-Key was used for another request");
        let header = Parameter::builder()
            .name(IDEMPOTENCY_KEY)
            .parameter_in(ParameterIn::Header)
            .required(Required::False)
            .description(Some(
                "Any unique text (1 to 255 characters): a retry with the same key and body gets the first answer again \
                 (with `Idempotent-Replayed: true`) instead of doing the work twice.",
            ))
            .schema(Some(ObjectBuilder::new().schema_type(Type::String).min_length(Some(1)).max_length(Some(MAX_KEY_LENGTH))))
            .build();
        let parameters = operation.parameters.get_or_insert_with(Vec::new);
        if !parameters.iter().any(|p| p.name.eq_ignore_ascii_case(IDEMPOTENCY_KEY)) {
            parameters.push(header);
        }
    }
}

/// An answer with the API's error body; none for HEAD, whose answers never have a body.
fn error_response(description: &str, head: bool) -> Response {
    let mut response = Response::new(description);
    if !head {
        response.content.insert("application/json".into(), Content::new(Some(Ref::from_schema_name("ErrorBody"))));
    }
    response
}

#[cfg(test)]
mod tests {
    use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem};
    use utoipa::openapi::request_body::RequestBodyBuilder;
    use utoipa::openapi::security::SecurityRequirement;
    use utoipa::openapi::{OpenApiBuilder, PathsBuilder};

    use super::*;

    fn document(method: HttpMethod, path: &str, operation: Operation) -> utoipa::openapi::OpenApi {
        OpenApiBuilder::new().paths(PathsBuilder::new().path(path, PathItem::new(method, operation))).build()
    }

    fn statuses(doc: &utoipa::openapi::OpenApi, path: &str, method: &str) -> Vec<String> {
        let value = serde_json::to_value(doc).unwrap();
        let responses = value["paths"][path][method]["responses"].as_object().unwrap().clone();
        responses.keys().cloned().collect()
    }

    #[test]
    fn a_signed_in_json_post_gets_every_layer_answer_and_the_idempotency_header() {
        let operation = OperationBuilder::new()
            .request_body(Some(
                RequestBodyBuilder::new().content("application/json", Content::new(None::<RefOr<_>>)).build(),
            ))
            .security(SecurityRequirement::new("bearer", Vec::<String>::new()))
            .response("201", Response::new("made"))
            .response("400", Response::new("the handler's own 400"))
            .build();
        let mut doc = document(HttpMethod::Post, "/v1/things", operation);
        LayerResponses.modify(&mut doc);
        assert_eq!(statuses(&doc, "/v1/things", "post"), ["201", "400", "401", "409", "413", "415", "422"]);
        let value = serde_json::to_value(&doc).unwrap();
        let operation = &value["paths"]["/v1/things"]["post"];
        // The handler's own description is kept; the added ones carry the error body.
        assert_eq!(operation["responses"]["400"]["description"], "the handler's own 400");
        assert_eq!(
            operation["responses"]["415"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/ErrorBody"
        );
        assert_eq!(operation["parameters"][0]["name"], "idempotency-key");
        assert_eq!(operation["parameters"][0]["in"], "header");
        assert_eq!(operation["parameters"][0]["schema"]["maxLength"], 255);
    }

    #[test]
    fn an_operation_nobody_signs_in_for_has_no_idempotency_key() {
        let operation = OperationBuilder::new()
            .request_body(Some(
                RequestBodyBuilder::new().content("application/json", Content::new(None::<RefOr<_>>)).build(),
            ))
            .response("200", Response::new("signed in"))
            .build();
        let mut doc = document(HttpMethod::Post, "/v1/auth/login", operation);
        LayerResponses.modify(&mut doc);
        assert_eq!(statuses(&doc, "/v1/auth/login", "post"), ["200", "400", "413", "415"]);
        let value = serde_json::to_value(&doc).unwrap();
        assert!(value["paths"]["/v1/auth/login"]["post"]["parameters"].is_null(), "{value}");
    }

    #[test]
    fn an_open_get_without_parameters_gets_nothing() {
        let operation = OperationBuilder::new().response("200", Response::new("ok")).build();
        let mut doc = document(HttpMethod::Get, "/v1/open", operation);
        LayerResponses.modify(&mut doc);
        assert_eq!(statuses(&doc, "/v1/open", "get"), ["200"]);
        let value = serde_json::to_value(&doc).unwrap();
        assert!(value["paths"]["/v1/open"]["get"]["parameters"].is_null(), "{value}");
    }

    #[test]
    fn tus_requests_skip_idempotency_and_head_answers_have_no_body() {
        let operation = OperationBuilder::new()
            .parameter(Parameter::builder().name("id").parameter_in(ParameterIn::Path).required(Required::True))
            .security(SecurityRequirement::new("bearer", Vec::<String>::new()))
            .response("200", Response::new("offset"))
            .build();
        let mut doc = document(HttpMethod::Head, "/v1/uploads/{id}", operation.clone());
        LayerResponses.modify(&mut doc);
        assert_eq!(statuses(&doc, "/v1/uploads/{id}", "head"), ["200", "400", "401"]);
        let value = serde_json::to_value(&doc).unwrap();
        assert!(value["paths"]["/v1/uploads/{id}"]["head"]["responses"]["401"]["content"].is_null(), "{value}");
        let mut doc = document(HttpMethod::Delete, "/v1/uploads/{id}", operation);
        LayerResponses.modify(&mut doc);
        assert_eq!(statuses(&doc, "/v1/uploads/{id}", "delete"), ["200", "400", "401"]);
    }

    #[test]
    fn optional_sign_in_still_documents_a_refused_credential() {
        let operation = OperationBuilder::new()
            .security(SecurityRequirement::default())
            .security(SecurityRequirement::new("bearer", Vec::<String>::new()))
            .response("200", Response::new("ok"))
            .build();
        let mut doc = document(HttpMethod::Get, "/v1/maybe", operation);
        LayerResponses.modify(&mut doc);
        assert_eq!(statuses(&doc, "/v1/maybe", "get"), ["200", "401"]);
    }
}
