use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use crate::db;
use crate::i18n::Lang;
use crate::web::extract::{CookieNames, CsrfForm};
use crate::web::static_files;
use crate::web::{AppError, AppState, run};

/// 200 when the database answers, 503 otherwise.
pub async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    let ok = run(&state, |c| Ok(db::ping(c))).await.unwrap_or(false);
    if ok {
        HttpResponse::Ok().content_type("text/plain").body("ok")
    } else {
        HttpResponse::ServiceUnavailable()
            .content_type("text/plain")
            .body("database unavailable")
    }
}

pub async fn static_file(path: web::Path<String>) -> Result<HttpResponse, AppError> {
    let file = static_files::find(&path).ok_or(AppError::NotFound)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, file.content_type))
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(file.body))
}

#[derive(Deserialize)]
pub struct LangForm {
    #[serde(default)]
    lang: String,
    #[serde(default)]
    back: String,
}

/// A form with no field a person types (hidden fields, buttons).
impl crate::web::extract::FormFields for LangForm {
    fn label(_: &str) -> Option<&'static str> {
        None
    }
}

/// The language switch: remembered in a cookie, for a year.
pub async fn set_lang(
    req: HttpRequest,
    form: CsrfForm<LangForm>,
) -> Result<HttpResponse, AppError> {
    // A switch sent with a field twice is a hand-made request: refused.
    let (form, twice) = form.checked();
    twice.check()?;
    let lang = Lang::parse(&form.lang).unwrap_or_default();
    let back = safe_back(&form.back);
    let cookie = Cookie::build(CookieNames::LANG, lang.code())
        .path("/")
        .same_site(SameSite::Lax)
        .max_age(CookieDuration::days(365))
        .finish();
    let _ = req;
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, back))
        .cookie(cookie)
        .finish())
}

/// A local path to go back to; anything else goes home.
pub fn safe_back(s: &str) -> String {
    if s.starts_with('/')
        && !s.starts_with("//")
        && !s.contains('\\')
        && !s.chars().any(char::is_control)
    {
        crate::web::middleware::sane_location(s)
    } else {
        "/".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::safe_back;

    #[test]
    fn back_links_stay_on_the_site() {
        assert_eq!(safe_back("/users?page=2"), "/users?page=2");
        assert_eq!(safe_back("//evil.example"), "/");
        assert_eq!(safe_back("https://evil.example"), "/");
        assert_eq!(safe_back("/\\evil"), "/");
        assert_eq!(safe_back(""), "/");
    }
}
