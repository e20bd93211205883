//! Card confirmation of `/payments/*` (API.md) through the simulated provider: test cards, Luhn,
//! expiry, one capture, declined cards limited per payment and per account, void when the seats
//! were lost, and card data never echoed or stored. The fixture (`World`) and the cards are the
//! parent module's.

use super::*;

#[tokio::test]
async fn confirm_with_a_good_card_succeeds_confirms_the_seats_and_captures_once() {
    let w = World::new().await;
    let booking = w.book(&w.ann_token, &["A1", "B1"]).await;
    let payment = w.checkout_ok(&w.ann_token, booking.id).await;
    let (status, _, body) = w.confirm(&w.ann_token, payment.id, card(GOOD_CARD)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let paid: Payment = parse(&body);
    assert_eq!(paid.status, PaymentStatus::Succeeded);
    assert_eq!(paid.card_last4.as_deref(), Some("4242"));
    assert_eq!((paid.id, paid.amount_cents, paid.refunded_cents), (payment.id, 6000, 0));
    assert_eq!(w.payment(payment.id).await, paid);
    assert_eq!(statuses(&w.booking(booking.id).await), vec![ReservationStatus::Confirmed; 2]);
    assert_eq!(w.status_of("A1").await, SeatStatus::Sold);
    assert_eq!(w.status_of("B1").await, SeatStatus::Sold);
    let charge = w.charge_of(payment.id);
    assert!(charge.captured && !charge.voided, "{charge:?}");
    assert_eq!((charge.amount_cents, charge.refunded_cents), (6000, 0));
}

#[tokio::test]
async fn declined_card_is_402_and_keeps_the_hold_for_another_card() {
    let w = World::new().await;
    let booking = w.book(&w.ann_token, &["A1"]).await;
    let payment = w.checkout_ok(&w.ann_token, booking.id).await;
    let declined = w.confirm(&w.ann_token, payment.id, card(DECLINED_CARD)).await;
    assert_error(&declined, StatusCode::PAYMENT_REQUIRED, "card_declined");
    assert_eq!(w.payment(payment.id).await.status, PaymentStatus::Pending);
    assert_eq!(statuses(&w.booking(booking.id).await), vec![ReservationStatus::Held]);
    assert_eq!(w.status_of("A1").await, SeatStatus::Held);
    assert!(w.charges_of(payment.id).iter().all(|c| !c.captured), "{:?}", w.charges_of(payment.id));

    let paid = w.confirm_ok(&w.ann_token, payment.id).await;
    assert_eq!(paid.status, PaymentStatus::Succeeded);
    assert_eq!(w.status_of("A1").await, SeatStatus::Sold);
    assert_eq!(w.charges_of(payment.id).iter().filter(|c| c.captured).count(), 1);
}

#[tokio::test]
async fn insufficient_funds_is_402_and_the_payment_stays_pending() {
    let w = World::new().await;
    let booking = w.book(&w.ann_token, &["A1"]).await;
    let payment = w.checkout_ok(&w.ann_token, booking.id).await;
    let resp = w.confirm(&w.ann_token, payment.id, card(INSUFFICIENT_FUNDS_CARD)).await;
    assert_error(&resp, StatusCode::PAYMENT_REQUIRED, "insufficient_funds");
    assert_eq!(w.payment(payment.id).await.status, PaymentStatus::Pending);
    assert_eq!(statuses(&w.booking(booking.id).await), vec![ReservationStatus::Held]);
}

/// What the 5th declined card of a payment is told, after the provider's own reason.
const CLOSED_AFTER_DECLINES: &str =
    "after 5 declined cards this payment is closed and its seats were released, so pick your seats again.";

/// Card testing: a payment takes 5 declined cards. The 5th is still answered with the provider's
/// refusal, but it fails the payment and frees the seats at once; the next confirm is refused
/// before the provider is asked.
#[tokio::test]
async fn the_fifth_declined_card_fails_the_payment_and_frees_the_seats() {
    let w = World::new().await;
    let booking = w.book(&w.ann_token, &["A1", "A2"]).await;
    let payment = w.checkout_ok(&w.ann_token, booking.id).await;
    for attempt in 1..=4 {
        let resp = w.confirm(&w.ann_token, payment.id, card(DECLINED_CARD)).await;
        assert_error(&resp, StatusCode::PAYMENT_REQUIRED, "card_declined");
        assert_eq!(detail(&resp), "The card was declined; try another card.", "decline {attempt}");
        assert_eq!(w.payment(payment.id).await.status, PaymentStatus::Pending, "after decline {attempt}");
        assert_eq!(w.status_of("A1").await, SeatStatus::Held, "after decline {attempt}");
    }

    let fifth = w.confirm(&w.ann_token, payment.id, card(DECLINED_CARD)).await;
    assert_error(&fifth, StatusCode::PAYMENT_REQUIRED, "card_declined");
    assert_eq!(detail(&fifth), format!("The card was declined; {CLOSED_AFTER_DECLINES}"));
    let failed = w.payment(payment.id).await;
    assert_eq!((failed.status, failed.refunded_cents), (PaymentStatus::Failed, 0));
    assert_eq!(statuses(&w.booking(booking.id).await), vec![ReservationStatus::Expired; 2], "the hold ended");
    assert_eq!((w.status_of("A1").await, w.status_of("A2").await), (SeatStatus::Available, SeatStatus::Available));

    let sixth = w.confirm(&w.ann_token, payment.id, card(GOOD_CARD)).await;
    assert_error(&sixth, StatusCode::CONFLICT, "invalid_state");
    assert_eq!(detail(&sixth), "This payment is already failed.");
    // Declined cards leave no charge at the simulated provider; the good 6th card would have.
    assert!(w.charges_of(payment.id).is_empty(), "the 6th card reached the provider: {:?}", w.charges_of(payment.id));
    assert_error(&w.checkout(Some(&w.ann_token), booking.id).await, StatusCode::CONFLICT, "hold_expired");
    let bobs = w.book(&w.bob_token, &["A1"]).await;
    assert_eq!(statuses(&bobs), vec![ReservationStatus::Held], "the freed seat is anyone's at once");
}

/// Insufficient funds is a declined card too, and keeps its own code on the 5th.
#[tokio::test]
async fn insufficient_funds_counts_as_a_declined_card() {
    let w = World::new().await;
    let booking = w.book(&w.ann_token, &["A1"]).await;
    let payment = w.checkout_ok(&w.ann_token, booking.id).await;
    for number in [DECLINED_CARD, INSUFFICIENT_FUNDS_CARD, DECLINED_CARD, INSUFFICIENT_FUNDS_CARD] {
        let resp = w.confirm(&w.ann_token, payment.id, card(number)).await;
        assert_eq!(resp.0, StatusCode::PAYMENT_REQUIRED, "{}", resp.2);
    }
    let fifth = w.confirm(&w.ann_token, payment.id, card(INSUFFICIENT_FUNDS_CARD)).await;
    assert_error(&fifth, StatusCode::PAYMENT_REQUIRED, "insufficient_funds");
    assert_eq!(detail(&fifth), format!("The card has insufficient funds; {CLOSED_AFTER_DECLINES}"));
    assert_eq!(w.payment(payment.id).await.status, PaymentStatus::Failed);
    assert_eq!(w.status_of("A1").await, SeatStatus::Available);
}

/// A burst of declined cards on one payment: however they interleave, 5 are answered 402 (the
/// 5th of them failing the payment) and every other one 409.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_of_declined_cards_gets_five_402s_and_the_rest_409() {
    const BURST: usize = 12;
    // This case is about one payment's own count; the account's limit is tested on its own below.
    let w = Arc::new(World::with_env(&[("DECLINE_LIMIT_PER_HOUR", "100")]).await);
    let booking = w.book(&w.ann_token, &["A1"]).await;
    let payment = w.checkout_ok(&w.ann_token, booking.id).await;
    let barrier = Arc::new(tokio::sync::Barrier::new(BURST));
    let tasks: Vec<_> = (0..BURST)
        .map(|_| {
            let (w, barrier) = (w.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                w.confirm(&w.ann_token, payment.id, card(DECLINED_CARD)).await
            })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.expect("confirm task"));
    }
    let count = |status: StatusCode| answers.iter().filter(|a| a.0 == status).count();
    let bodies: Vec<&Value> = answers.iter().map(|a| &a.2).collect();
    assert_eq!(count(StatusCode::PAYMENT_REQUIRED), 5, "{bodies:?}");
    assert_eq!(count(StatusCode::CONFLICT), BURST - 5, "{bodies:?}");
    let closing = answers.iter().filter(|a| detail(a).ends_with(CLOSED_AFTER_DECLINES)).count();
    assert_eq!(closing, 1, "exactly one answer closes the payment: {bodies:?}");
    assert_eq!(w.payment(payment.id).await.status, PaymentStatus::Failed);
    assert_eq!(w.status_of("A1").await, SeatStatus::Available);
}

/// Card testing across payments: an account's declined cards are limited per hour, counted before
/// the card reaches the provider, so a burst gets no more tries than the limit and the provider
/// never sees the rest; a card that was not declined does not count.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn declined_cards_are_limited_per_account_before_the_provider_is_asked() {
    const BURST: usize = 8;
    let w = Arc::new(World::with_env(&[("DECLINE_LIMIT_PER_HOUR", "3")]).await);
    let booking = w.book(&w.ann_token, &["A1"]).await;
    let payment = w.checkout_ok(&w.ann_token, booking.id).await;
    let barrier = Arc::new(tokio::sync::Barrier::new(BURST));
    let tasks: Vec<_> = (0..BURST)
        .map(|_| {
            let (w, barrier) = (w.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                w.confirm(&w.ann_token, payment.id, card(DECLINED_CARD)).await
            })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.expect("confirm task"));
    }
    let count = |status: StatusCode| answers.iter().filter(|a| a.0 == status).count();
    let bodies: Vec<&Value> = answers.iter().map(|a| &a.2).collect();
    assert_eq!(count(StatusCode::PAYMENT_REQUIRED), 3, "{bodies:?}");
    assert_eq!(count(StatusCode::TOO_MANY_REQUESTS), BURST - 3, "{bodies:?}");
    assert!(answers.iter().filter(|a| a.0 == StatusCode::TOO_MANY_REQUESTS).all(|a| a.2["error"] == "rate_limited"));
    assert_eq!(w.provider.refused_cards(payment.id), 3, "the provider saw more cards than the limit allows");
    // Bob, on his own account, is not affected.
    let bobs = w.book(&w.bob_token, &["A2"]).await;
    let bobs_payment = w.checkout_ok(&w.bob_token, bobs.id).await;
    let resp = w.confirm(&w.bob_token, bobs_payment.id, card(DECLINED_CARD)).await;
    assert_eq!(resp.0, StatusCode::PAYMENT_REQUIRED, "{resp:?}");
}

#[tokio::test]
async fn a_card_that_is_not_declined_takes_its_try_back() {
    let w = World::with_env(&[("DECLINE_LIMIT_PER_HOUR", "1")]).await;
    let booking = w.book(&w.ann_token, &["A1"]).await;
    let payment = w.checkout_ok(&w.ann_token, booking.id).await;
    // A card that was charged, and one refused because the payment is already paid, count nothing.
    let resp = w.confirm(&w.ann_token, payment.id, card(GOOD_CARD)).await;
    assert_eq!(resp.0, StatusCode::OK, "{resp:?}");
    let resp = w.confirm(&w.ann_token, payment.id, card(GOOD_CARD)).await;
    assert_error(&resp, StatusCode::CONFLICT, "invalid_state");
    let other = w.book(&w.ann_token, &["A2"]).await;
    let other_payment = w.checkout_ok(&w.ann_token, other.id).await;
    let resp = w.confirm(&w.ann_token, other_payment.id, card(DECLINED_CARD)).await;
    assert_eq!(resp.0, StatusCode::PAYMENT_REQUIRED, "the one allowed decline: {resp:?}");
    let resp = w.confirm(&w.ann_token, other_payment.id, card(GOOD_CARD)).await;
    assert_error(&resp, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
}

#[tokio::test]
async fn luhn_invalid_card_number_is_422_naming_card_number() {
    let w = World::new().await;
    let booking = w.book(&w.ann_token, &["A1"]).await;
    let payment = w.checkout_ok(&w.ann_token, booking.id).await;
    let resp = w.confirm(&w.ann_token, payment.id, card(LUHN_INVALID_CARD)).await;
    assert_error(&resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert!(detail(&resp).contains("card_number"), "{}", detail(&resp));
    assert_eq!(w.payment(payment.id).await.status, PaymentStatus::Pending);
    assert!(w.charges_of(payment.id).is_empty());
}

#[tokio::test]
async fn expired_card_is_422() {
    let w = World::new().await;
    let booking = w.book(&w.ann_token, &["A1"]).await;
    let payment = w.checkout_ok(&w.ann_token, booking.id).await;
    let mut body = card(GOOD_CARD);
    body["exp_year"] = json!(Utc::now().year() - 1);
    let resp = w.confirm(&w.ann_token, payment.id, body).await;
    assert_error(&resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert!(detail(&resp).contains("exp_"), "the detail names the expiry field: {}", detail(&resp));
    assert_eq!(w.payment(payment.id).await.status, PaymentStatus::Pending);
    assert!(w.charges_of(payment.id).is_empty());
}

#[tokio::test]
async fn confirm_of_another_customers_payment_is_403() {
    let w = World::new().await;
    let booking = w.book(&w.ann_token, &["A1"]).await;
    let payment = w.checkout_ok(&w.ann_token, booking.id).await;
    assert_error(&w.confirm(&w.bob_token, payment.id, card(GOOD_CARD)).await, StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(w.payment(payment.id).await.status, PaymentStatus::Pending);
    assert!(w.charges_of(payment.id).is_empty());
}

/// Confirm is for the buyer only: an admin may read the payment but not pay it.
#[tokio::test]
async fn confirm_by_an_admin_is_403() {
    let w = World::new().await;
    let booking = w.book(&w.ann_token, &["A1"]).await;
    let payment = w.checkout_ok(&w.ann_token, booking.id).await;
    assert_error(&w.confirm(&w.admin, payment.id, card(GOOD_CARD)).await, StatusCode::FORBIDDEN, "forbidden");
    assert!(w.charges_of(payment.id).is_empty());
}

#[tokio::test]
async fn confirm_of_an_unknown_payment_is_404() {
    let w = World::new().await;
    let resp = w.confirm(&w.ann_token, Uuid::new_v4(), card(GOOD_CARD)).await;
    assert_error(&resp, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn confirming_twice_is_409_invalid_state_and_captures_once() {
    let w = World::new().await;
    let booking = w.book(&w.ann_token, &["A1"]).await;
    let payment = w.checkout_ok(&w.ann_token, booking.id).await;
    w.confirm_ok(&w.ann_token, payment.id).await;
    let again = w.confirm(&w.ann_token, payment.id, card(GOOD_CARD)).await;
    assert_error(&again, StatusCode::CONFLICT, "invalid_state");
    let charges = w.charges_of(payment.id);
    assert_eq!(charges.iter().filter(|c| c.captured).count(), 1, "{charges:?}");
    assert!(charges.iter().all(|c| c.captured || c.voided), "no authorization is left dangling: {charges:?}");
    assert_eq!(w.payment(payment.id).await.status, PaymentStatus::Succeeded);
}

#[tokio::test]
async fn concurrent_confirms_capture_once_and_void_the_rest() {
    let w = World::new().await;
    let booking = w.book(&w.ann_token, &["A1"]).await;
    let payment = w.checkout_ok(&w.ann_token, booking.id).await;
    let (a, b) = tokio::join!(
        w.confirm(&w.ann_token, payment.id, card(GOOD_CARD)),
        w.confirm(&w.ann_token, payment.id, card(OTHER_GOOD_CARD)),
    );
    let mut codes = [a.0, b.0];
    codes.sort();
    assert_eq!(codes, [StatusCode::OK, StatusCode::CONFLICT], "{} / {}", a.2, b.2);
    let charges = w.charges_of(payment.id);
    assert_eq!(charges.iter().filter(|c| c.captured).count(), 1, "{charges:?}");
    assert!(charges.iter().all(|c| c.captured != c.voided), "each charge captured or voided: {charges:?}");
    assert_eq!(w.payment(payment.id).await.status, PaymentStatus::Succeeded);
}

#[tokio::test]
async fn confirm_after_the_hold_lapsed_and_the_seat_was_taken_is_409_and_voids_the_charge() {
    let w = World::with_env(&[("HOLD_TTL_SECONDS", "1"), ("PAYMENT_WINDOW_SECONDS", "0")]).await;
    let booking = w.book(&w.ann_token, &["A1"]).await;
    let payment = w.checkout_ok(&w.ann_token, booking.id).await;
    tokio::time::sleep(StdDuration::from_millis(1200)).await;
    let bobs = w.book(&w.bob_token, &["A1"]).await;

    let resp = w.confirm(&w.ann_token, payment.id, card(GOOD_CARD)).await;
    assert_error(&resp, StatusCode::CONFLICT, "hold_expired");
    let failed = w.payment(payment.id).await;
    assert_eq!((failed.status, failed.refunded_cents), (PaymentStatus::Failed, 0));
    let charge = w.charge_of(payment.id);
    assert!(charge.voided && !charge.captured, "the authorization is voided, nothing charged: {charge:?}");
    assert_eq!(statuses(&w.booking(bobs.id).await), vec![ReservationStatus::Held], "Bob's hold is intact");
    assert_ne!(statuses(&w.booking(booking.id).await), vec![ReservationStatus::Confirmed]);
}

#[tokio::test]
async fn confirm_after_the_hold_lapsed_with_the_seat_still_free_succeeds() {
    let w = World::with_env(&[("HOLD_TTL_SECONDS", "1"), ("PAYMENT_WINDOW_SECONDS", "0")]).await;
    let booking = w.book(&w.ann_token, &["A1", "A2"]).await;
    let payment = w.checkout_ok(&w.ann_token, booking.id).await;
    tokio::time::sleep(StdDuration::from_millis(1200)).await;
    let paid = w.confirm_ok(&w.ann_token, payment.id).await;
    assert_eq!(paid.status, PaymentStatus::Succeeded);
    assert_eq!(statuses(&w.booking(booking.id).await), vec![ReservationStatus::Confirmed; 2]);
    assert_eq!(w.status_of("A1").await, SeatStatus::Sold);
    assert!(w.charge_of(payment.id).captured);
}

#[tokio::test]
async fn a_booking_with_a_hold_canceled_before_checkout_can_be_paid_for_its_other_seats() {
    let w = World::new().await;
    let booking = w.book(&w.ann_token, &["A1", "B1"]).await;
    let vip = booking.reservations.iter().find(|r| r.seat_id == w.seat("B1")).expect("B1 in the booking");
    let resp = w.app.delete(&format!("/reservations/reservations/{}", vip.id), Some(&w.ann_token)).await;
    assert_eq!(resp.0, StatusCode::OK, "{}", resp.2);
    let payment = w.checkout_ok(&w.ann_token, booking.id).await;
    assert_eq!(payment.amount_cents, w.price("A1"), "only the seat still held is paid for");
    let (status, _, body) = w.confirm(&w.ann_token, payment.id, card(GOOD_CARD)).await;
    assert_eq!(status, StatusCode::OK, "a checked-out booking must be payable: {body}");
    assert_eq!(w.status_of("A1").await, SeatStatus::Sold);
    assert_eq!(w.status_of("B1").await, SeatStatus::Available);
    assert!(w.charge_of(payment.id).captured);
}

#[tokio::test]
async fn card_data_is_never_echoed_or_stored() {
    let w = World::new().await;
    let booking = w.book(&w.ann_token, &["A1"]).await;
    let payment = w.checkout_ok(&w.ann_token, booking.id).await;
    let path = format!("/payments/{}/confirm", payment.id);
    let mut answers = vec![
        w.confirm(&w.ann_token, payment.id, card(LUHN_INVALID_CARD)).await,
        w.confirm(
            &w.ann_token,
            payment.id,
            json!({"card_number": GOOD_CARD, "exp_month": 12, "exp_year": "soon", "cvc": CVC}),
        )
        .await,
        w.post_with_key(&path, card(DECLINED_CARD), &w.ann_token, "pay-declined").await,
        w.post_with_key(&path, card(GOOD_CARD), &w.ann_token, "pay-1").await,
        w.post_with_key(&path, card(GOOD_CARD), &w.ann_token, "pay-1").await,
    ];
    assert_eq!(answers[3].0, StatusCode::OK, "{}", answers[3].2);
    answers.push(w.app.get(&format!("/payments/{}", payment.id), Some(&w.ann_token)).await);
    answers.push(w.app.get("/payments", Some(&w.admin)).await);
    for (i, resp) in answers.iter().enumerate() {
        assert_no_card_data(&format!("answer {i}"), &resp.2);
    }

    // Every text value the store keeps (idempotency answers included).
    let url = format!("sqlite://{}", w.app.database_path().display());
    let pool = sqlx::SqlitePool::connect(&url).await.expect("open the test database");
    let tables: Vec<String> = sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'")
        .fetch_all(&pool)
        .await
        .expect("tables");
    let mut values = 0;
    let mut stored: Vec<(String, String)> = Vec::new();
    for table in &tables {
        let rows = sqlx::query(&format!("SELECT * FROM \"{table}\"")).fetch_all(&pool).await.expect("rows");
        for row in &rows {
            for i in 0..row.len() {
                let Ok(Some(text)) = row.try_get::<Option<String>, _>(i) else { continue };
                values += 1;
                stored.push((table.clone(), text.clone()));
                let what = format!("a stored value in `{table}`");
                assert!(!text.contains("\"cvc\""), "{what} names a CVC: {text}");
                match serde_json::from_str::<Value>(&text) {
                    Ok(json) => assert_no_card_data(&what, &json),
                    Err(_) => assert_no_card_data(&what, &Value::String(text)),
                }
            }
        }
    }
    assert!(values > 0, "the scan read the store");
    assert!(stored.iter().any(|(t, v)| t == "payments" && v == "4242"), "the scan saw the payment's card_last4");
    let payment_id = payment.id.to_string();
    assert!(
        stored.iter().any(|(t, v)| t == "idempotency_keys" && v.contains(&payment_id)),
        "the scan saw the stored idempotent answers"
    );
    pool.close().await;

    // And not even in the bytes of the files (free pages, the write-ahead log).
    for suffix in ["", "-wal"] {
        let mut file = w.app.database_path().into_os_string();
        file.push(suffix);
        let Ok(bytes) = std::fs::read(&file) else { continue };
        for number in [GOOD_CARD_DIGITS, GOOD_CARD] {
            assert!(!bytes.windows(number.len()).any(|win| win == number.as_bytes()), "{file:?} holds {number}");
        }
    }
}
