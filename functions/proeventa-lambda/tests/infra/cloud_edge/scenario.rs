//! What the code sends DynamoDB: every function of the template drives a scenario through its own
//! router on DynamoDB Local, each request recorded from the SDK and held to that function's policy
//! (`super::statements`, `super::allows`) and to the kinds of items its code says it writes.

use super::*;

/// One request (or one item of a transaction or a batch) as IAM authorizes it.
#[derive(Debug, Clone)]
struct Call {
    action: String,
    pk: Option<String>,
    on_index: bool,
}

/// Records every request a store sends, before it is sent.
#[derive(Debug, Clone, Default)]
struct Recorder(Arc<Mutex<Vec<Call>>>);

impl Recorder {
    fn calls(&self) -> Vec<Call> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

fn pk_in(item: Option<&std::collections::HashMap<String, AttributeValue>>) -> Option<String> {
    match item?.get("pk") {
        Some(AttributeValue::S(pk)) => Some(pk.clone()),
        _ => None,
    }
}

impl Intercept for Recorder {
    fn name(&self) -> &'static str {
        "RecordRequests"
    }

    fn read_before_execution(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let input = context.input();
        let call = |action: &str, pk: Option<String>| Call { action: action.to_owned(), pk, on_index: false };
        let mut calls = Vec::new();
        if let Some(i) = input.downcast_ref::<PutItemInput>() {
            calls.push(call("PutItem", pk_in(i.item())));
        } else if let Some(i) = input.downcast_ref::<UpdateItemInput>() {
            calls.push(call("UpdateItem", pk_in(i.key())));
        } else if let Some(i) = input.downcast_ref::<DeleteItemInput>() {
            calls.push(call("DeleteItem", pk_in(i.key())));
        } else if let Some(i) = input.downcast_ref::<BatchWriteItemInput>() {
            for request in i.request_items().into_iter().flat_map(|r| r.values()).flatten() {
                let item = request.put_request().map(|p| p.item()).or(request.delete_request().map(|d| d.key()));
                calls.push(call("BatchWriteItem", pk_in(item)));
            }
        } else if let Some(i) = input.downcast_ref::<TransactWriteItemsInput>() {
            for item in i.transact_items() {
                calls.push(match (item.put(), item.update(), item.delete(), item.condition_check()) {
                    (Some(put), ..) => call("PutItem", pk_in(Some(put.item()))),
                    (_, Some(update), ..) => call("UpdateItem", pk_in(Some(update.key()))),
                    (_, _, Some(delete), _) => call("DeleteItem", pk_in(Some(delete.key()))),
                    (.., Some(check)) => call("ConditionCheckItem", pk_in(Some(check.key()))),
                    _ => call("an empty transaction item", None),
                });
            }
        } else if let Some(i) = input.downcast_ref::<GetItemInput>() {
            calls.push(call("GetItem", pk_in(i.key())));
        } else if input.downcast_ref::<BatchGetItemInput>().is_some() {
            calls.push(call("BatchGetItem", None));
        } else if let Some(i) = input.downcast_ref::<QueryInput>() {
            calls.push(Call { on_index: i.index_name().is_some(), ..call("Query", None) });
        } else if input.downcast_ref::<DescribeTableInput>().is_some() {
            calls.push(call("DescribeTable", None));
        } else {
            // A request this recorder does not know: named, so the test fails rather than miss it.
            calls.push(call(&format!("an unrecorded request: {input:?}"), None));
        }
        self.0.lock().unwrap_or_else(|p| p.into_inner()).extend(calls);
        Ok(())
    }
}

/// One function's router (or the job's store) on DynamoDB Local, recording what it sends.
struct Deployed {
    recorder: Recorder,
    store: Arc<dyn Store>,
    app: Option<Router>,
}

impl Deployed {
    /// One request through the function's router, from a client address, as API Gateway hands it.
    async fn call(&self, method: Method, path: &str, headers: &[(&str, String)], body: Option<Value>) -> (u16, Value) {
        let mut request = Request::builder().method(method).uri(path);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        if body.is_some() {
            request = request.header("content-type", "application/json");
        }
        let body = body.map(|b| Body::from(b.to_string())).unwrap_or_else(Body::empty);
        let mut request = request.body(body).expect("a request");
        request.extensions_mut().insert(ConnectInfo(SocketAddr::from(([192, 0, 2, 7], 40000))));
        let app = self.app.clone().expect("a function with a router");
        let response = app.oneshot(request).await.unwrap_or_else(|e| match e {});
        let status = response.status().as_u16();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("a body");
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    /// A request as `token`'s holder, with a body (when not null) and an Idempotency-Key (when given).
    async fn send(&self, method: Method, path: &str, token: &str, key: Option<&str>, body: Value) -> (u16, Value) {
        let mut headers = vec![("authorization", format!("Bearer {token}"))];
        headers.extend(key.map(|key| ("idempotency-key", key.to_owned())));
        self.call(method, path, &headers, (!body.is_null()).then_some(body)).await
    }
}

fn id(value: &Value) -> String {
    value["id"].as_str().unwrap_or_else(|| panic!("an id in {value}")).to_owned()
}

/// Every function of the template, each on its own store client over one DynamoDB Local table,
/// drives a scenario through its own router that makes each of its kinds of writes; each request
/// any of them sent DynamoDB must be one its policy allows, each item it wrote one of the kinds
/// its code says it writes, and every one of those kinds written at least once.
#[tokio::test]
async fn each_function_sends_dynamodb_only_what_its_policy_allows() {
    let table = TempDynamoTable::new("lambda_iam");
    let setup = DynamoStore::connect_with(table.endpoint(), table.name());
    setup.migrate().await.expect("create the table");
    let env = BTreeMap::from([
        ("DATABASE_URL", format!("dynamodb://{}", table.name())),
        ("JWT_SECRET", JWT_SECRET.to_owned()),
        ("WEBHOOK_SECRET", WEBHOOK_SECRET.to_owned()),
        ("TICKET_SIGNING_KEY", TICKET_SIGNING_KEY.to_owned()),
    ]);
    let config = lambda_config(|key| env.get(key).cloned()).expect("configuration");
    // One provider for every function, as one payment provider account is in the cloud.
    let provider = Arc::new(SimulatedProvider::new(Some(WEBHOOK_SECRET)));
    let functions = functions();
    let mut deployed: BTreeMap<String, Deployed> = BTreeMap::new();
    for function in &functions {
        let recorder = Recorder::default();
        let store: Arc<dyn Store> =
            Arc::new(DynamoStore::connect_intercepted(table.endpoint(), table.name(), recorder.clone()));
        let app = Group::ALL.into_iter().find(|g| g.function_name() == function.name).map(|group| {
            let state =
                AppState::new(config.clone(), store.clone(), JWT_SECRET).with_payment_provider(provider.clone());
            group.app(state)
        });
        deployed.insert(function.name.clone(), Deployed { recorder, store, app });
    }
    let [auth, catalog, reservations, tickets_api, payments, checkin, queue_api, admin_api, meta, job, mail_job] = [
        "api-auth",
        "api-catalog",
        "api-reservations",
        "api-tickets",
        "api-payments",
        "api-checkin",
        "api-queue",
        "api-admin",
        "api-meta",
        "job-expire-holds",
        "job-send-mail",
    ]
    .map(|name| &deployed[name]);

    // api-auth: accounts, a refused and two good logins, a profile change, an admin's change.
    let signup = |email: &str, password: &str| {
        let body = json!({"email": email, "password": password});
        async move {
            let (status, user) = auth.call(Method::POST, "/auth/signup", &[], Some(body)).await;
            assert_eq!(status, 201, "{user}");
            user
        }
    };
    let login = |email: &str, password: &str| {
        let body = json!({"email": email, "password": password});
        async move {
            let (status, login) = auth.call(Method::POST, "/auth/login", &[], Some(body)).await;
            assert_eq!(status, 200, "{login}");
            login["access_token"].as_str().expect("a token").to_owned()
        }
    };
    let admin_id = Uuid::parse_str(&id(&signup("admin@iam.test", "admin-password-1").await)).expect("a uuid");
    setup
        .update_user(admin_id, UserChanges { role: Some(Role::Admin), ..UserChanges::default() })
        .await
        .expect("admin");
    let customer = signup("ana@iam.test", "ana-password-1").await;
    let wrong = json!({"email": "ana@iam.test", "password": "not-anas-password"});
    assert_eq!(auth.call(Method::POST, "/auth/login", &[], Some(wrong)).await.0, 401);
    let admin = login("admin@iam.test", "admin-password-1").await;
    let ana = login("ana@iam.test", "ana-password-1").await;
    let (status, body) = auth.send(Method::PATCH, "/auth/me", &ana, None, json!({"name": "Ana"})).await;
    assert_eq!(status, 200, "{body}");
    let path = format!("/auth/users/{}", id(&customer));
    // Disabled and enabled again: two changes, each with its audit entry (AUDIT#).
    for disabled in [true, false] {
        let (status, body) = auth.send(Method::PATCH, &path, &admin, None, json!({"disabled": disabled})).await;
        assert_eq!(status, 200, "{body}");
    }
    // A password reset: asked for (the reset's item and its mail), then used (the reset consumed and
    // the account's password and token version, in one transaction); ana logs in again after it.
    let ask = json!({"email": "ana@iam.test"});
    let (status, body) = auth.call(Method::POST, "/auth/password-reset", &[], Some(ask)).await;
    assert_eq!(status, 202, "{body}");
    let outbox = setup.list_messages(None, Page { limit: 200, offset: 0 }).await.expect("the outbox");
    let reset = outbox.iter().find(|m| m.facts.kind() == MessageKind::PasswordReset).expect("the reset mail");
    let token = reset.secret.as_ref().expect("its token").expose().to_owned();
    let confirm = json!({"token": token, "password": "ana-password-1"});
    let (status, body) = auth.call(Method::POST, "/auth/password-reset/confirm", &[], Some(confirm)).await;
    assert_eq!(status, 200, "{body}");
    let ana = login("ana@iam.test", "ana-password-1").await;

    // api-catalog: a venue (with an Idempotency-Key) and its time zone changed, an event, a change to it.
    let venue = json!({"name": "IAM Hall", "location": "Policy street 1", "kind": "hall",
                       "rows": [{"row": "A", "seats": 6, "tier": "standard"}]});
    let (status, venue) = catalog.send(Method::POST, "/events/venues", &admin, Some("venue-1"), venue).await;
    assert_eq!(status, 201, "{venue}");
    let venue_path = format!("/events/venues/{}", id(&venue));
    let zone = json!({"time_zone": "Europe/Madrid"});
    let (status, body) = catalog.send(Method::PATCH, &venue_path, &admin, None, zone).await;
    assert_eq!(status, 200, "{body}");
    let seats: Vec<String> = venue["seats"].as_array().expect("seats").iter().map(id).collect();
    let start = (Utc::now() + Duration::days(30)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let event = json!({"venue_id": id(&venue), "name": "IAM Night", "category": "concert",
                       "description": "Policies, checked.", "start_time": start, "duration_minutes": 90,
                       "prices": [{"tier": "standard", "price_cents": 1500}]});
    let (status, event) = catalog.send(Method::POST, "/events/events", &admin, None, event).await;
    assert_eq!(status, 201, "{event}");
    let event_id = id(&event);
    let event_path = format!("/events/events/{event_id}");
    let (status, body) = catalog.send(Method::PATCH, &event_path, &admin, None, json!({"name": "IAM Gala"})).await;
    assert_eq!(status, 200, "{body}");

    // api-reservations: a hold with an Idempotency-Key, a two-seat booking.
    let reserve = "/reservations/reservations/reserve";
    let hold = json!({"event_id": event_id, "seat_id": seats[0]});
    let (status, held) = reservations.send(Method::POST, reserve, &ana, Some("hold-1"), hold).await;
    assert_eq!(status, 201, "{held}");
    let two = json!({"event_id": event_id, "seat_ids": [seats[1], seats[2]]});
    let (status, booking) = reservations.send(Method::POST, reserve, &ana, None, two).await;
    assert_eq!(status, 201, "{booking}");

    // api-admin: a promo code for the event (its item and its name's, with the audit entry).
    let code = json!({"code": "IAM10", "kind": "percent", "value": 10, "event_id": event_id, "max_uses": 5});
    let (status, code) = admin_api.send(Method::POST, "/admin/codes", &admin, None, code).await;
    assert_eq!(status, 201, "{code}");

    // api-payments: checkout with the code (with an Idempotency-Key), a declined and a good card
    // (the code's use counted by the confirm), a refund webhook.
    let checkout = json!({"booking_id": id(&booking), "promo_code": "IAM10"});
    let (status, payment) = payments.send(Method::POST, "/payments/checkout", &ana, Some("pay-1"), checkout).await;
    assert_eq!(status, 201, "{payment}");
    let confirm = format!("/payments/{}/confirm", id(&payment));
    let card = |number: &str| json!({"card_number": number, "exp_month": 12, "exp_year": 2040, "cvc": "123"});
    assert_eq!(payments.send(Method::POST, &confirm, &ana, None, card("4000 0000 0000 0002")).await.0, 402);
    let (status, paid) = payments.send(Method::POST, &confirm, &ana, None, card("4242 4242 4242 4242")).await;
    assert_eq!(status, 200, "{paid}");
    let refund = json!({"id": "evt_iam_1", "type": "charge.refunded", "payment_id": id(&payment), "amount_cents": 100});
    let signature = SimulatedProvider::sign(WEBHOOK_SECRET.as_bytes(), refund.to_string().as_bytes());
    let (status, body) =
        payments.call(Method::POST, "/payments/webhook", &[("x-signature", signature)], Some(refund)).await;
    assert_eq!(status, 200, "{body}");

    // api-tickets: the paid seats' tickets, read; api-checkin: one admitted by door staff, then
    // the door's counts and manifest.
    let (status, tickets) = tickets_api.send(Method::GET, "/reservations/tickets", &ana, None, Value::Null).await;
    assert_eq!(status, 200, "{tickets}");
    let code = tickets[0]["code"].as_str().unwrap_or_else(|| panic!("a ticket code in {tickets}")).to_owned();
    let scan = json!({"code": code, "event_id": event_id, "gate": "north"});
    let (status, admitted) = checkin.send(Method::POST, "/checkin/scan", &admin, None, scan).await;
    assert_eq!(status, 200, "{admitted}");
    let (status, summary) =
        checkin.send(Method::GET, &format!("/checkin/events/{event_id}/summary"), &admin, None, Value::Null).await;
    assert_eq!((status, summary["admitted"].as_u64()), (200, Some(1)), "{summary}");
    let (status, manifest) =
        checkin.send(Method::GET, &format!("/checkin/events/{event_id}/manifest"), &admin, None, Value::Null).await;
    assert_eq!(status, 200, "{manifest}");

    // api-reservations: canceling a paid seat (its refund recorded) and a held booking.
    let paid_seat = id(&booking["reservations"][0]);
    let path = format!("/reservations/reservations/{paid_seat}");
    let (status, body) = reservations.send(Method::DELETE, &path, &ana, None, Value::Null).await;
    assert_eq!(status, 200, "{body}");
    let path = format!("/reservations/bookings/{}", held["booking_id"].as_str().expect("a booking id"));
    let (status, body) = reservations.send(Method::DELETE, &path, &ana, None, Value::Null).await;
    assert_eq!(status, 200, "{body}");

    // job-expire-holds: a hold that has lapsed by the sweep's clock.
    let hold = json!({"event_id": event_id, "seat_id": seats[3]});
    assert_eq!(reservations.send(Method::POST, reserve, &ana, None, hold).await.0, 201);
    let expired = job.store.expire_lapsed_holds(Utc::now() + Duration::hours(2)).await.expect("a sweep");
    assert!(expired >= 1, "the sweep expired the lapsed hold");
    // job-expire-holds is the waiting rooms' pace too: once an admin puts a queue in front of the
    // event, the pace draws it (its state, listed under `QUEUES`).
    let queue =
        json!({"queue": {"enabled": true, "admit_per_minute": 60, "max_active_buyers": 10, "session_minutes": 10}});
    let (status, body) = catalog.send(Method::PATCH, &event_path, &admin, None, queue).await;
    assert_eq!(status, 200, "{body}");
    let event_uuid: Uuid = event_id.parse().expect("an event id");
    assert_eq!(job.store.advance_queue(event_uuid, Utc::now()).await.expect("a pace"), 0, "nobody waits");
    // api-queue: ana joins the waiting room of another event, the first to (its place, and the
    // queue's state listed under `QUEUES`); the pace lets her through and her poll answers the
    // admission.
    let queued = json!({"venue_id": id(&venue), "name": "IAM Queue Night", "category": "concert",
                        "description": "Wait your turn.", "start_time": start, "duration_minutes": 90,
                        "prices": [{"tier": "standard", "price_cents": 1500}],
                        "queue": {"enabled": true, "admit_per_minute": 60, "max_active_buyers": 10, "session_minutes": 10}});
    let (status, queued) = catalog.send(Method::POST, "/events/events", &admin, None, queued).await;
    assert_eq!(status, 201, "{queued}");
    let queued_id = id(&queued);
    let (status, ticket) =
        queue_api.send(Method::POST, &format!("/queue/events/{queued_id}/join"), &ana, None, Value::Null).await;
    assert_eq!(status, 200, "{ticket}");
    // Two seconds on, the pace (60 a minute) has a turn for her whatever the clock did meanwhile.
    let later = Utc::now() + Duration::seconds(2);
    let queued_uuid: Uuid = queued_id.parse().expect("an event id");
    assert_eq!(job.store.advance_queue(queued_uuid, later).await.expect("a pace"), 1, "ana is let through");
    let queue_token = ticket["queue_token"].as_str().expect("a queue token").to_owned();
    let poll = format!("/queue/events/{queued_id}/status");
    let (status, place) = queue_api.call(Method::GET, &poll, &[("x-queue-token", queue_token.clone())], None).await;
    assert!(status == 200 && place["admission_token"].is_string(), "{status}: {place}");
    // api-reservations and api-payments: ana holds a seat with her admission and pays for it,
    // sending it again, which ends her session in the waiting room (api-payments' QUEUE# write).
    let admission = place["admission_token"].as_str().unwrap_or_default().to_owned();
    let with_admission = [("authorization", format!("Bearer {ana}")), ("x-admission-token", admission)];
    let hold = json!({"event_id": queued_id, "seat_id": seats[0]});
    let (status, held) = reservations.call(Method::POST, reserve, &with_admission, Some(hold)).await;
    assert_eq!(status, 201, "{held}");
    let checkout = json!({"booking_id": held["booking_id"]});
    let (status, payment) = payments.send(Method::POST, "/payments/checkout", &ana, None, checkout).await;
    assert_eq!(status, 201, "{payment}");
    let confirm = format!("/payments/{}/confirm", id(&payment));
    let (status, paid) =
        payments.call(Method::POST, &confirm, &with_admission, Some(card("4242 4242 4242 4242"))).await;
    assert_eq!(status, 200, "{paid}");
    let (_, place) = queue_api.call(Method::GET, &poll, &[("x-queue-token", queue_token)], None).await;
    assert!(place["admission_token"].is_null(), "the sale ended her session: {place}");
    let stats = format!("/queue/events/{queued_id}/stats");
    let (status, stats) = queue_api.send(Method::GET, &stats, &admin, None, Value::Null).await;
    assert_eq!((status, stats["joined"].as_u64(), stats["active"].as_u64()), (200, Some(1), Some(0)), "{stats}");
    // api-reservations: an admin cancels ana's paid seat there (its refund audited, AUDIT#).
    let path = format!("/reservations/reservations/{}", id(&held));
    let (status, body) = reservations.send(Method::DELETE, &path, &admin, None, Value::Null).await;
    assert_eq!(status, 200, "{body}");

    // The waiting list of a sold-out event: api-catalog takes the admin onto it (WAITLIST#), after
    // bob, who joins and leaves once; api-reservations' cancel of one of ana's bookings offers its
    // seat to bob in the same transaction (an offer's BOOKING# and RES#, his entry's WAITLIST#); the
    // sweep that lapses her other booking offers one of its seats to the admin (job-expire-holds'
    // BOOKING# and WAITLIST#).
    let listed = json!({"venue_id": id(&venue), "name": "IAM Sold Out", "category": "concert",
                        "description": "Every seat taken.", "start_time": start,
                        "prices": [{"tier": "standard", "price_cents": 1500}]});
    let (status, listed) = catalog.send(Method::POST, "/events/events", &admin, None, listed).await;
    assert_eq!(status, 201, "{listed}");
    let listed_id = id(&listed);
    let one = json!({"event_id": listed_id, "seat_ids": [seats[0]]});
    let (status, first) = reservations.send(Method::POST, reserve, &ana, None, one).await;
    assert_eq!(status, 201, "{first}");
    let rest = json!({"event_id": listed_id, "seat_ids": seats[1..].to_vec()});
    let (status, body) = reservations.send(Method::POST, reserve, &ana, None, rest).await;
    assert_eq!(status, 201, "{body}");
    signup("bob@iam.test", "bob-password-1").await;
    let bob = login("bob@iam.test", "bob-password-1").await;
    let waitlist = format!("/events/events/{listed_id}/waitlist");
    let (status, body) = catalog.send(Method::POST, &waitlist, &bob, None, json!({"seats": 1})).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(catalog.send(Method::DELETE, &waitlist, &bob, None, Value::Null).await.0, 204);
    let (status, body) = catalog.send(Method::POST, &waitlist, &bob, None, json!({"seats": 1})).await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = catalog.send(Method::POST, &waitlist, &admin, None, json!({"seats": 1})).await;
    assert_eq!(status, 201, "{body}");
    let path = format!("/reservations/bookings/{}", id(&first));
    let (status, body) = reservations.send(Method::DELETE, &path, &ana, None, Value::Null).await;
    assert_eq!(status, 200, "{body}");
    let (status, entry) = catalog.send(Method::GET, &waitlist, &bob, None, Value::Null).await;
    assert_eq!((status, entry["status"].as_str()), (200, Some("offered")), "{entry}");
    assert!(job.store.expire_lapsed_holds(Utc::now() + Duration::hours(2)).await.expect("a sweep") >= 1);
    let (status, entry) = catalog.send(Method::GET, &waitlist, &admin, None, Value::Null).await;
    assert_eq!((status, entry["status"].as_str()), (200, Some("offered")), "{entry}");

    // api-catalog: canceling the event cancels its paid seat and records the refund.
    let (status, body) = catalog.send(Method::DELETE, &event_path, &admin, None, Value::Null).await;
    assert_eq!(status, 200, "{body}");

    // api-meta: health asks whether the table answers.
    assert_eq!(meta.call(Method::GET, "/health", &[], None).await.0, 200);

    // api-admin: an outgoing webhook's endpoint (HOOK#), on a loopback port nothing listens on.
    let all = ["booking.confirmed", "booking.canceled", "refund.created", "event.canceled", "ticket.checked_in"];
    let hook = json!({"url": "http://127.0.0.1:9/hooks", "secret": "iam-webhook-secret-0123", "events": all});
    let (status, hook) = admin_api.send(Method::POST, "/admin/webhooks", &admin, None, hook).await;
    assert_eq!(status, 201, "{hook}");

    // job-send-mail: the sender drains the outbox the scenario wrote (reading what each mail
    // says), into .eml files here instead of SES.
    let mail_folder = std::env::temp_dir().join(format!("proeventa-iam-mail-{}", Uuid::new_v4().simple()));
    let tickets = Arc::new(TicketKeys::from_secret(TICKET_SIGNING_KEY).expect("the ticket key"));
    let sender = sender_for(&config, &MailUrl::File(mail_folder.clone()), mail_job.store.clone(), tickets)
        .await
        .expect("a sender")
        .expect("a transport");
    let drained = sender.drain().await.expect("a drain");
    assert!(drained.sent > 0, "the scenario's changes wrote messages: {drained}");
    let _ = std::fs::remove_dir_all(&mail_folder);
    // Then the webhooks: the scenario's events fanned out (HOOKEVENT#) into deliveries (HOOKDLV#),
    // claimed, posted (refused: nothing listens) and settled for a retry.
    let webhooks = WebhookSender::new(mail_job.store.clone()).expect("a webhook sender");
    let delivered = webhooks.drain().await.expect("a webhook drain");
    assert!(delivered.fanned_out > 0 && delivered.retrying > 0, "{delivered}");
    // api-admin: one given up on (as the job does after its last attempt), listed and replayed;
    // then the endpoint deleted.
    let later = Utc::now() + Duration::hours(3);
    let claimed = mail_job.store.claim_deliveries(1, CLAIM_LEASE, later).await.expect("a claim");
    let gave_up = DeliveryOutcome {
        settlement: Settlement::Failed { reason: "gave up".into() },
        status_code: None,
        response: "no answer".into(),
    };
    let delivery = &claimed[0].delivery;
    assert!(mail_job.store.settle_delivery(delivery.id, delivery.attempts, &gave_up, later).await.expect("settle"));
    let hook_path = format!("/admin/webhooks/{}", id(&hook));
    let (status, body) =
        admin_api.send(Method::GET, &format!("{hook_path}/deliveries"), &admin, None, Value::Null).await;
    assert_eq!(status, 200, "{body}");
    let replay = format!("{hook_path}/deliveries/{}/replay", delivery.id);
    let (status, body) = admin_api.send(Method::POST, &replay, &admin, None, Value::Null).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(admin_api.send(Method::DELETE, &hook_path, &admin, None, Value::Null).await.0, 204);
    // api-admin: a message given up on (a new account's welcome, settled as the job does), listed
    // and sent again.
    signup("late@iam.test", "late-password-1").await;
    let claimed = mail_job.store.claim_messages(10, CLAIM_LEASE, Utc::now()).await.expect("a claim");
    let failed = Settlement::Failed { reason: "550 no such mailbox".into() };
    assert!(
        mail_job.store.settle_message(claimed[0].id, claimed[0].attempts, &failed, Utc::now()).await.expect("settle")
    );
    let (status, listed) =
        admin_api.send(Method::GET, "/admin/messages?status=failed", &admin, None, Value::Null).await;
    assert_eq!(status, 200, "{listed}");
    let path = format!("/admin/messages/{}/resend", claimed[0].id);
    let (status, body) = admin_api.send(Method::POST, &path, &admin, None, Value::Null).await;
    assert_eq!(status, 200, "{body}");
    // The event's sales report and its orders CSV read the event's partitions and its tickets'
    // index (issue 21).
    let report = format!("/admin/reports/events/{event_id}");
    let (status, body) = admin_api.send(Method::GET, &report, &admin, None, Value::Null).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = admin_api.send(Method::GET, &format!("{report}/orders.csv"), &admin, None, Value::Null).await;
    assert_eq!(status, 200, "{body}");
    // The audit log (issue 21): the admin's changes above, each written with its change (AUDIT#:
    // api-auth's account change, api-catalog's venue and event changes, this function's resend),
    // read by the kind partitions, an entity's (gsi1) and an actor's (gsi2).
    for query in ["", "?entity=event", &format!("?entity=event:{event_id}"), &format!("?actor={admin_id}")] {
        let (status, body) =
            admin_api.send(Method::GET, &format!("/admin/audit{query}"), &admin, None, Value::Null).await;
        assert_eq!(status, 200, "{body}");
        assert!(body.as_array().is_some_and(|entries| !entries.is_empty()), "{query}: {body}");
    }

    for function in &functions {
        let statements = statements(function);
        let calls = deployed[&function.name].recorder.calls();
        let mut written: BTreeSet<&'static str> = BTreeSet::new();
        for call in &calls {
            let pk = call.pk.as_deref();
            assert!(
                allows(&statements, &call.action, pk, call.on_index),
                "{} ({}) sent {} {} (on an index: {}), which its policy in infra/template.yaml does not allow",
                function.logical_id,
                function.name,
                call.action,
                pk.unwrap_or(""),
                call.on_index,
            );
            if WRITE_ACTIONS.contains(&format!("dynamodb:{}", call.action).as_str()) {
                let pk = pk.unwrap_or_else(|| panic!("{}: a write without a partition key", function.name));
                let kind = kind_of(pk).unwrap_or_else(|| {
                    panic!(
                        "{} wrote partition key {pk:?}, whose shape no kind in shared/src/store/dynamodb/items.rs \
                         has: add its kind there, beside its key builder",
                        function.name
                    )
                });
                assert!(
                    kind.is_written_by(function.writes),
                    "{} wrote {pk:?}, of the shape of kind {} ({:?}, written by {:?}), but its code says it \
                     writes with {:?} only: a new kind of item belongs in ITEM_KINDS (items.rs); a known \
                     kind needs the right `Writes` there, or the function's store_writes",
                    function.name,
                    kind.name,
                    kind.pattern,
                    kind.written_by,
                    function.writes,
                );
                written.insert(kind.pattern);
            }
        }
        let declared: BTreeSet<&'static str> = kinds_written_by(function.writes).into_keys().collect();
        assert_eq!(
            written, declared,
            "{}: the kinds of items it wrote in this scenario are not all it is said to write (a write path \
             this scenario misses, or a kind said to be written that is not)",
            function.name
        );
    }
}
