//! Opening and closing a household's session with its card and PIN,
//! changing the PIN, and the household's choice about the honour roll.

use super::*;

/// `/h/{card_no}`: where the card's QR code leads; the card number is
/// filled in, the PIN is asked for.
pub async fn card(req: HttpRequest, path: web::Path<String>) -> Result<HttpResponse, AppError> {
    let typed = path.into_inner();
    let card = crate::domain::CardNo::parse("field.card_no", &typed)
        .map(|c| c.as_str().to_string())
        .unwrap_or_default();
    if let Some(h) = household_of(&req).await?
        && h.session.card_no == card
    {
        return Ok(see_other("/h"));
    }
    let ctx = ctx_of(&req).await?;
    login_page(&ctx, card, None, StatusCode::OK)
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    card_no: String,
    #[serde(default)]
    pin: String,
}

/// The form's fields and the labels their messages stand beside.
impl crate::web::extract::FormFields for LoginForm {
    fn label(name: &str) -> Option<&'static str> {
        Some(match name {
            "card_no" => "field.card_no",
            "pin" => "field.pin",
            _ => return None,
        })
    }
}

/// Open the household's page with its card number and PIN. The phone gets
/// (or renews) its device mark for the card.
pub async fn log_in(req: HttpRequest, form: CsrfForm<LoginForm>) -> Result<HttpResponse, AppError> {
    let state = state_of(&req);
    let (form, twice) = form.checked();
    let info = request_info(&req);
    let secure = state.config.secure_cookies;
    let device = device_of(&req, secure);
    let (key, config) = (state.key.clone(), state.config.clone());
    let (card, pin) = (form.card_no.clone(), form.pin.clone());
    // A card number or PIN sent twice is refused like a wrong one.
    let result = if twice.check().is_err() {
        Err(WindowError::Refused)
    } else {
        run(&state, move |c| {
            Ok(window::log_in(
                c,
                &key,
                &config,
                &card,
                &pin,
                &info.ip,
                &info.id,
                device.as_deref(),
            ))
        })
        .await?
    };
    let lang = lang_of(&req);
    let (status, key) = match result {
        Ok((token, mark)) => {
            let cookie = Cookie::build(cookie_name(secure), token)
                .path("/")
                .http_only(true)
                .secure(secure)
                .same_site(SameSite::Lax)
                .max_age(CookieDuration::minutes(window::SESSION_MINUTES))
                .finish();
            let device = Cookie::build(device_cookie_name(secure), mark)
                .path("/")
                .http_only(true)
                .secure(secure)
                .same_site(SameSite::Lax)
                .max_age(CookieDuration::days(DEVICE_MARK_DAYS))
                .finish();
            return Ok(HttpResponse::SeeOther()
                .insert_header((header::LOCATION, "/h"))
                .cookie(cookie)
                .cookie(device)
                .finish());
        }
        Err(WindowError::Refused) => (StatusCode::UNAUTHORIZED, "window.refused"),
        Err(WindowError::Throttled) => (StatusCode::TOO_MANY_REQUESTS, "window.throttled"),
        Err(other) => return Err(unexpected(other)),
    };
    let ctx = ctx_of(&req).await?;
    let card = crate::domain::input::normalize(&form.card_no);
    login_page(&ctx, card, Some(i18n::t(lang, key).to_string()), status)
}

/// Close the household's page.
pub async fn log_out(
    req: HttpRequest,
    _form: CsrfForm<crate::web::pages::auth::Empty>,
) -> Result<HttpResponse, AppError> {
    let state = state_of(&req);
    let secure = state.config.secure_cookies;
    if let Some(token) = token_of(&req, secure) {
        run(&state, move |c| Ok(window::log_out(c, &token)?)).await?;
    }
    let mut gone = Cookie::build(cookie_name(secure), "")
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .finish();
    gone.set_max_age(CookieDuration::ZERO);
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/h"))
        .cookie(gone)
        .finish())
}

#[derive(Deserialize)]
pub struct PinForm {
    #[serde(default)]
    current: String,
    #[serde(default)]
    new: String,
    #[serde(default)]
    again: String,
}

/// The form's fields and the labels their messages stand beside.
impl crate::web::extract::FormFields for PinForm {
    fn label(name: &str) -> Option<&'static str> {
        Some(match name {
            "current" => "field.current_pin",
            "new" => "field.new_pin",
            "again" => "field.new_pin_again",
            _ => return None,
        })
    }
}

/// The household changes its PIN. A refusal (a malformed or mismatched new
/// PIN, a wrong current one, too many tries) draws the page again with the
/// message beside the PIN form: 422, or 429 when throttled.
pub async fn change_pin(
    req: HttpRequest,
    h: Household,
    form: CsrfForm<PinForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.checked();
    let state = state_of(&req);
    let f = form.0;
    let (key, config) = (state.key.clone(), state.config.clone());
    let device = device_of(&req, state.config.secure_cookies);
    let (s, token) = (h.session, h.token);
    let s2 = s.clone();
    let result = form
        .1
        .run(&state, move |c| {
            Ok(window::change_pin(
                c,
                &key,
                &config,
                &s2,
                &token,
                &f.current,
                &f.new,
                &f.again,
                device.as_deref(),
            ))
        })
        .await?;
    let lang = lang_of(&req);
    let (e, status) = match result {
        Ok(()) => return Ok(flash_ok(&req, "/h", "window.pin_changed", &[])),
        Err(WindowError::Field(e)) => (
            i18n::field_error(lang, &e),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(WindowError::Refused) => (
            i18n::field_error(
                lang,
                &FieldError::new("field.current_pin", "error.pin_wrong"),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(WindowError::Throttled) => (
            i18n::t(lang, "window.throttled").to_string(),
            StatusCode::TOO_MANY_REQUESTS,
        ),
        Err(other) => return Err(unexpected(other)),
    };
    let back = Returned {
        pin_error: Some(e),
        ..Returned::default()
    };
    home_page(&req, s, back, status).await
}

#[derive(Deserialize)]
pub struct HonourForm {
    #[serde(default)]
    opt_out: String,
}

/// The form's fields and the labels their messages stand beside.
impl crate::web::extract::FormFields for HonourForm {
    fn label(name: &str) -> Option<&'static str> {
        Some(match name {
            "opt_out" => "field.honour",
            _ => return None,
        })
    }
}

/// The household asks to be left off the honour roll ("1"), or to be on it
/// ("0"); anything else is refused (422).
pub async fn honour_choice(
    req: HttpRequest,
    h: Household,
    form: CsrfForm<HonourForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.checked();
    let state = state_of(&req);
    let s = h.session;
    let chosen = form.1.check().and_then(|()| match form.0.opt_out.as_str() {
        "1" => Ok(true),
        "0" => Ok(false),
        _ => Err(FieldError::new("field.honour", "error.choose_one")),
    });
    let opt_out = match chosen {
        Ok(opt_out) => opt_out,
        Err(e) => {
            let back = Returned {
                honour_error: Some(i18n::field_error(lang_of(&req), &e)),
                ..Returned::default()
            };
            return refused(&req, s, back).await;
        }
    };
    run(&state, move |c| {
        window::set_honour_opt_out(c, &s, opt_out).map_err(unexpected)
    })
    .await?;
    Ok(flash_ok(&req, "/h", "window.honour_saved", &[]))
}
