//! A household's own forms behind its session: reporting a good deed
//! (with photos), objecting to an entry on the notice, and its own photos.

use super::*;
use crate::domain::AwardId;

/// The label key of a report form's field, by its name.
fn report_field(name: &str) -> &'static str {
    match name {
        "rule_code" => "field.rule",
        "occurred_on" => "field.occurred_on",
        "note" => "field.note",
        "photo" => "field.photo",
        _ => "field.form",
    }
}

/// The most parts a report form may have: its five fields and the photos,
/// with room for a browser's empty file part or two.
pub const MAX_REPORT_PARTS: usize = 5 + photo::MAX_PHOTOS + 4;

/// The household reports a good deed (multipart: the form's fields and up
/// to three photos). Photos are cleaned off the async workers; a form sent
/// twice reports once. A field error shows the page again with what was
/// typed (the photos must be chosen again: browsers never refill a file).
pub async fn report_deed(
    req: HttpRequest,
    h: Household,
    mut payload: actix_multipart::Multipart,
) -> Result<HttpResponse, AppError> {
    use futures_util::StreamExt;
    let state = state_of(&req);
    let mut csrf = String::new();
    let mut draft = Draft::default();
    let mut uploads: Vec<Vec<u8>> = Vec::new();
    // Every problem of the form is collected, so each shows beside its field.
    let mut checks = FieldChecks::new();
    let mut parts = 0;
    while let Some(field) = payload.next().await {
        let mut field = field.map_err(|e| AppError::BadRequest(e.to_string()))?;
        // The form has five fields and a few photos: a body of endless
        // parts is not this form, and is not read on.
        parts += 1;
        if parts > MAX_REPORT_PARTS {
            return Err(AppError::BadRequest("too many parts".into()));
        }
        let name = field.name().unwrap_or("").to_string();
        let cap = if name == "photo" {
            photo::MAX_UPLOAD_BYTES
        } else {
            crate::web::extract::FORM_LIMIT
        };
        let mut buf = Vec::new();
        let mut over = false;
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(|e| AppError::BadRequest(e.to_string()))?;
            if buf.len() + chunk.len() > cap {
                // Read on (and drop) so that the rest of the form arrives.
                over = true;
                continue;
            }
            buf.extend_from_slice(&chunk);
        }
        if name != "photo" {
            // Text that is not UTF-8 is refused, never stored mended.
            let text = match String::from_utf8(std::mem::take(&mut buf)) {
                Ok(t) if !over => t,
                Ok(_) => {
                    checks.push(
                        FieldError::new(report_field(&name), "error.too_long").arg("max", cap),
                    );
                    continue;
                }
                Err(e) => {
                    checks.push(FieldError::new(report_field(&name), "error.not_utf8"));
                    String::from_utf8_lossy(e.as_bytes()).into_owned()
                }
            };
            if crate::domain::has_control_chars(&text) && !checks.has(report_field(&name)) {
                checks.push(FieldError::new(report_field(&name), "error.control_chars"));
            }
            match name.as_str() {
                "csrf" => csrf = text,
                "key" => draft.key = text,
                "rule_code" => draft.rule_code = text,
                "occurred_on" => draft.occurred_on = text,
                "note" => draft.note = text,
                _ => {}
            }
            continue;
        }
        if over {
            if !checks.has("field.photo") {
                checks.push(
                    FieldError::new("field.photo", "error.photo_too_large")
                        .arg("mb", photo::MAX_UPLOAD_BYTES / 1024 / 1024),
                );
            }
        } else if buf.is_empty() {
            // A file input left empty still sends an empty part.
        } else if uploads.len() >= photo::MAX_PHOTOS {
            if !checks.has("field.photo") {
                checks.push(
                    FieldError::new("field.photo", "error.photo_count")
                        .arg("max", photo::MAX_PHOTOS),
                );
            }
        } else {
            uploads.push(buf);
        }
    }
    crate::web::extract::verify_csrf(&req, &csrf).await?;
    let s = h.session;
    let today = crate::time::today(state.config.time_zone);
    // The fields' own checks, beside what reading the form found (a field
    // already refused is not refused twice).
    let input = match deeds::parse(&draft.rule_code, &draft.occurred_on, &draft.note, today) {
        Ok(input) => Some(input),
        Err(e) => {
            for f in e.all() {
                if !checks.has(f.field) {
                    checks.push(FieldError {
                        others: Vec::new(),
                        ..f.clone()
                    });
                }
            }
            None
        }
    };
    let key = checks.take(crate::idempotency::IdemKey::parse(&draft.key));
    let parsed = match (checks.finish(), input, key) {
        (Ok(()), Some(input), Some(key)) => Ok((input, key)),
        (Err(e), ..) => Err(e),
        // Unreachable: a field not parsed left its error.
        _ => Err(FieldError::new("field.form", "error.required")),
    };
    let cleaned = match parsed {
        Err(e) => Err(e),
        Ok((input, key)) => web::block(move || {
            uploads
                .iter()
                .map(|b| photo::clean(b))
                .collect::<Result<Vec<_>, _>>()
                .map(|photos| (input, key, photos))
        })
        .await
        .map_err(AppError::internal)?,
    };
    let lang = lang_of(&req);
    let back = |e: &FieldError, draft: Draft| Returned {
        draft,
        report_errors: FormErrors::new(lang, e),
        ..Returned::default()
    };
    // 422 for a field to correct, 409 for a conflict with the state of things.
    let again = |back: Returned| {
        let status = back.report_errors.status();
        home_page(&req, s.clone(), back, status)
    };
    let (input, key, photos) = match cleaned {
        Ok(v) => v,
        Err(e) => return again(back(&e, draft)).await,
    };
    let s2 = s.clone();
    let result = run(&state, move |c| {
        Ok(deeds::report(c, &s2, &input, &photos, &key))
    })
    .await?;
    match result {
        Ok((_, false)) => Ok(flash_ok(&req, "/h#reports", "window.reported", &[])),
        Ok((_, true)) => Ok(flash_ok(&req, "/h#reports", "flash.already_done", &[])),
        Err(WindowError::Field(e)) => again(back(&e, draft)).await,
        Err(other) => Err(unexpected(other)),
    }
}

#[derive(Deserialize)]
pub struct ObjectionForm {
    #[serde(default)]
    award_id: String,
    #[serde(default)]
    reason: String,
}

/// The form's fields and the labels their messages stand beside.
impl crate::web::extract::FormFields for ObjectionForm {
    fn label(name: &str) -> Option<&'static str> {
        Some(match name {
            "award_id" => "field.award",
            "reason" => "field.reason",
            _ => return None,
        })
    }
}

/// The household objects to an entry of its village's notice.
pub async fn object(
    req: HttpRequest,
    h: Household,
    form: CsrfForm<ObjectionForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.checked();
    let state = state_of(&req);
    let f = form.0;
    let today = crate::time::today(state.config.time_zone);
    let s = h.session;
    let (s2, award, reason) = (
        s.clone(),
        AwardId::parse(f.award_id.trim()),
        f.reason.clone(),
    );
    let twice = form.1.check().map_err(WindowError::Field);
    let result = run(&state, move |c| {
        Ok(match (twice, award) {
            (Err(e), _) => Err(e),
            (Ok(()), Some(award)) => objections::object(c, &s2, &award, &reason, today),
            // Text that is not an award id is on no notice (as an unknown id:
            // nothing tells which ids exist).
            (Ok(()), None) => {
                Err(FieldError::new("field.award", "error.objection_not_on_notice").into())
            }
        })
    })
    .await?;
    match result {
        Ok(_) => Ok(flash_ok(&req, "/h#notice", "window.objected", &[])),
        Err(WindowError::Field(e)) => {
            let back = Returned {
                objection_award: f.award_id,
                objection_reason: f.reason,
                objection_error: Some(i18n::field_error(lang_of(&req), &e)),
                ..Returned::default()
            };
            refused(&req, s, back).await
        }
        Err(other) => Err(unexpected(other)),
    }
}

/// One of the household's own photos (never another household's).
pub async fn own_photo(
    req: HttpRequest,
    h: Household,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let state = state_of(&req);
    let id = path.into_inner();
    let s = h.session;
    let jpeg = run(&state, move |c| Ok(deeds::photo_for_household(c, &s, &id)?))
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(jpeg_response(jpeg))
}

/// A stored photo as a response: never cached by anyone.
pub fn jpeg_response(jpeg: Vec<u8>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "image/jpeg"))
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .body(jpeg)
}
