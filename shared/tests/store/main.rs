//! Storage conformance: one set of test bodies, run on every backend, proves each keeps the same
//! promises as the store traits' doc comments, above all the one hard promise: no seat ever has
//! two active reservations, whatever the concurrency, and a lapsed hold never blocks a seat.
//!
//! The bodies live in `cases`, one module per capability; `backend_tests!` expands every one of
//! them into a module per backend, so the tests read `sqlite::hold_all_or_nothing`,
//! `postgres::hold_all_or_nothing`. A new backend is one more `backend_tests!` line with a
//! function in `support` that opens a fresh store. The ticket cases run as `<backend>::tickets::…`
//! on the backends whose line names `ticket_tests`, the outbox cases as `<backend>::messages::…`
//! on those naming `message_tests`, the waiting room's as `<backend>::waiting_room::…` on those
//! naming `waiting_room_tests`, the waiting list's as `<backend>::waitlist::…` on those naming
//! `waitlist_tests`.
//!
//! `dynamodb_table` checks the DynamoDB table's two definitions (Rust and the CloudFormation
//! template) against each other; `dynamodb_capacity` the store's capacity accounting on the emulator.

mod cases;
mod dynamodb_capacity;
mod dynamodb_table;
mod dynamodb_tickets;
mod support;

/// Generates one `#[tokio::test]` per case for a backend; `concurrent` cases run on four workers.
/// A case left out of these lists is a function never used, which `clippy -D warnings` refuses.
macro_rules! backend_tests {
    ($backend:ident, $open:path $(, $more:ident)*) => {
        mod $backend {
            // More groups of cases, each a macro making its own module here (see `ticket_tests!`).
            $($more!($open);)*
            backend_tests!(@each $open, [tokio::test], [
                user_create_and_read_back,
                refusals_are_worded_alike_on_every_backend,
                idempotency_record_holds_for_exactly_a_day,
                user_duplicate_email_is_email_taken,
                user_with_password_hash_finds_by_email,
                a_reset_token_works_once,
                an_expired_reset_token_is_refused_and_changes_nothing,
                a_password_change_ends_every_other_reset_token_of_the_account,
                update_user_changes_fields,
                list_users_query_and_paging_oldest_first,
                venue_seats_numbered_per_row_in_row_order,
                venue_time_zone_is_stored_shown_on_its_events_and_changed,
                event_create_and_read_back,
                empty_optional_text_round_trips,
                list_events_soonest_first_hides_past_and_canceled,
                list_events_filters_and_pages,
                search_finds_city_venue_title_and_typos_best_first,
                listing_sorts_and_filters_by_city,
                update_event_changes_fields_and_prices,
                event_poster_is_set_shown_kept_and_removed,
                cancel_event_cancels_its_holds_only,
                seat_map_shows_available_and_held,
                a_layout_round_trips_with_sections_positions_attributes_and_labels,
                a_venue_of_plain_rows_still_reads_as_before_with_a_generated_layout,
                a_layout_is_replaced_by_label_only_while_no_event_is_on_sale,
                an_event_created_during_a_new_layout_sees_it_or_stops_it,
                lapsed_hold_is_available_and_expired_before_any_sweep,
                hold_single_seat,
                hold_multi_seat_booking,
                hold_all_or_nothing,
                hold_unknown_event_is_not_found,
                hold_seat_of_other_venue_is_rejected,
                hold_on_canceled_event_is_rejected,
                hold_on_started_event_is_rejected,
                lapsed_hold_is_reheld_by_another_user,
                hold_limit_stops_a_squatter,
                ticket_types_price_each_seat_by_type_and_tier,
                a_hidden_type_is_held_only_when_unlocked_and_keeps_its_quota,
                a_type_quota_frees_canceled_and_expired_slots_and_keeps_sold_ones,
                hold_limit_counts_only_seats_still_held,
                a_hold_extended_by_checkout_keeps_counting,
                a_hold_is_extended_once_and_not_past_the_limit,
                an_extension_is_refused_for_a_lapsed_paid_canceled_or_unknown_booking,
                a_squatter_limits_nobody_else,
                cancel_held_reservation_frees_seat_at_once,
                cancel_lapsed_hold_is_invalid_state,
                cancel_unknown_is_not_found,
                cancel_booking_cancels_all_active_seats,
                list_reservations_newest_first_with_filters,
                expire_lapsed_holds_counts_each_once,
                idempotency_claim_inflight_replay_mismatch,
                idempotency_release_makes_key_claimable,
                idempotency_keys_are_per_user,
                idempotency_record_lapses_after_a_day,
                checkout_opens_pending_payment_and_extends_hold,
                checkout_amount_counts_held_seats_only,
                checkout_twice_is_invalid_state,
                checkout_of_lapsed_hold_is_hold_expired,
                checkout_of_canceled_booking_is_invalid_state,
                checkout_of_unknown_booking_is_not_found,
                confirm_payment_confirms_every_seat_and_sells_them,
                confirm_twice_is_invalid_state,
                confirm_after_lapse_with_seats_free_succeeds,
                confirm_after_lapse_and_seat_reheld_is_hold_expired,
                fail_payment_only_from_pending,
                cancel_confirmed_seats_refunds_their_price,
                cancel_event_refunds_every_paid_booking_of_it_only,
                cancel_of_held_seats_refunds_nothing,
                confirm_after_a_seat_was_canceled_is_invalid_state_whatever_its_clock,
                record_refund_caps_at_the_amount,
                record_refund_of_unpaid_payment_is_invalid_state,
                webhook_events_are_recorded_once_until_forgotten,
                list_payments_newest_first_per_user,
                attempts_count_per_key_in_a_window_that_restarts,
                uncounting_takes_back_one_attempt_of_its_own_window_only,
                forgetting_ended_windows_keeps_running_ones,
                confirm_after_the_event_started_is_refused_and_changes_nothing,
                checkout_after_the_event_started_is_refused_and_changes_nothing,
                five_declines_fail_the_payment_and_free_its_seats,
                largest_booking_is_held_checked_out_and_confirmed,
                largest_paid_bookings_are_canceled_with_their_refunds,
                event_report_counts_seats_revenue_refunds_by_tier_and_hour,
                event_report_of_an_event_with_no_sale_has_every_seat_available,
                sales_window_counts_the_sales_and_refunds_in_it_by_event_and_day,
                audited_changes_write_exactly_their_row_with_before_and_after,
                an_admins_cancel_of_paid_seats_audits_each_refund_and_nothing_else_does,
                a_resent_message_writes_its_row_and_a_refused_resend_none,
                a_webhooks_registration_and_deletion_write_their_rows_without_its_secret,
                refused_or_unknown_changes_write_no_row,
            ]);
            backend_tests!(@each $open, [tokio::test(flavor = "multi_thread", worker_threads = 4)], [
                concurrent_signups_same_email_one_wins,
                concurrent_expiry_runs_count_once,
                concurrent_idempotency_claims_one_wins,
                concurrent_holds_one_winner_per_seat,
                concurrent_holds_with_lapsing_holds,
                concurrent_holds_of_one_user_never_exceed_the_limit,
                concurrent_holds_never_exceed_a_type_quota,
                concurrent_confirm_sweeper_and_rehold,
                concurrent_confirm_and_cancel,
                concurrent_attempts_are_each_counted_once,
                concurrent_declines_count_at_most_the_limit,
                concurrent_extensions_one_wins,
                concurrent_confirms_of_one_reset_token_one_wins,
                concurrent_best_available_never_double_books_splits_or_strands,
                concurrent_audited_changes_each_write_their_row,
            ]);
        }
    };
    (@each $open:path, [$attr:meta], [$($case:ident),* $(,)?]) => {
        $(
            #[$attr]
            async fn $case() {
                let test_store = $open().await;
                crate::cases::$case(test_store.store()).await;
            }
        )*
    };
}

/// The outbox cases, as `<backend>::messages::…`: a backend runs them when its `backend_tests!`
/// line names `message_tests`.
macro_rules! message_tests {
    ($open:path) => {
        mod messages {
            backend_tests!(@each $open, [tokio::test], [
                signing_up_writes_one_account_created_message,
                a_confirm_writes_the_booking_confirmed_message,
                a_confirm_that_lost_its_seat_writes_the_refund_notice_not_the_confirmation,
                a_failed_payment_with_nothing_given_back_writes_no_message,
                canceling_paid_seats_writes_their_refund_notice,
                canceling_a_hold_writes_no_message,
                canceling_an_event_writes_one_notice_per_refund,
                moving_an_event_writes_one_rescheduled_message,
                a_claimed_message_is_leased_then_claimable_again,
                a_retry_is_pending_again_at_the_time_given,
                a_failed_message_is_listed_by_status_and_resent,
                the_depth_counts_pending_and_failed_messages_as_they_move,
                a_reset_writes_its_mail_with_the_token_and_keeps_only_a_digest,
                a_retried_reset_mail_keeps_its_token_and_a_failed_one_loses_it,
            ]);
            backend_tests!(@each $open, [tokio::test(flavor = "multi_thread", worker_threads = 4)], [
                concurrent_claims_take_each_message_once,
                concurrent_reschedules_chain_their_notices,
            ]);
        }
    };
}

/// The waiting room's cases (issue 20), as `<backend>::waiting_room::…`: the sale's opening, the
/// queue's settings, and the queue itself. A backend runs them when its line names `waiting_room_tests`.
macro_rules! waiting_room_tests {
    ($open:path) => {
        mod waiting_room {
            backend_tests!(@each $open, [tokio::test], [
                event_opening_and_queue_are_stored_changed_and_cleared,
                hold_before_the_opening_is_not_on_sale,
                a_started_or_canceled_event_is_refused_as_such_before_its_opening,
                a_hold_of_an_event_behind_its_waiting_room_needs_an_admission,
                joining_twice_keeps_one_place,
                positions_are_drawn_at_random_before_the_opening_and_in_order_after,
                admission_follows_the_pace,
            ]);
            backend_tests!(@each $open, [tokio::test(flavor = "multi_thread", worker_threads = 4)], [
                concurrent_joins_give_every_account_one_position_of_a_permutation,
                concurrent_advances_never_admit_more_than_the_maximum,
            ]);
        }
    };
}

/// The waiting list's cases (issue 20), as `<backend>::waitlist::…`: entries, and offers made by
/// the transactions that free seats. A backend runs them when its line names `waitlist_tests`.
macro_rules! waitlist_tests {
    ($open:path) => {
        mod waitlist {
            backend_tests!(@each $open, [tokio::test], [
                joining_twice_keeps_one_entry_and_leaving_removes_it,
                a_cancel_offers_its_seats_to_the_list_in_the_same_transaction,
                an_unpaid_offer_lapses_to_the_next_entry_through_the_sweeper,
                a_group_is_passed_over_at_most_three_times,
                a_canceled_event_makes_no_offers,
                offers_keep_the_first_ticket_types_quota,
            ]);
            backend_tests!(@each $open, [tokio::test(flavor = "multi_thread", worker_threads = 4)], [
                concurrent_cancels_offer_each_seat_once_in_the_lists_order,
            ]);
        }
    };
}

/// The outgoing webhooks' cases (issue 21), as `<backend>::webhooks::…`: events written with
/// their changes, the fan-out, claims in order and once. A backend runs them when its line names
/// `webhook_tests`.
macro_rules! webhook_tests {
    ($open:path) => {
        mod webhooks {
            backend_tests!(@each $open, [tokio::test], [
                a_confirm_yields_one_delivery_per_subscribed_endpoint,
                cancels_refunds_and_check_ins_write_their_events,
                a_bookings_events_are_claimed_in_order_per_endpoint,
                a_delivery_is_retried_recorded_and_replayed,
            ]);
            backend_tests!(@each $open, [tokio::test(flavor = "multi_thread", worker_threads = 4)], [
                concurrent_jobs_deliver_each_attempt_once,
            ]);
        }
    };
}

/// The promo and access codes' cases (issue 21), as `<backend>::codes::…`. A backend runs them
/// when its line names `code_tests`.
macro_rules! code_tests {
    ($open:path) => {
        mod codes {
            backend_tests!(@each $open, [tokio::test], [
                a_code_is_created_changed_and_deleted_with_exactly_its_audit_rows,
                a_checkout_takes_the_discount_off_and_its_confirm_counts_the_use,
                the_per_account_limit_is_kept_at_confirm,
                a_canceled_discounted_seat_refunds_what_was_paid_for_it,
                reports_count_what_was_paid_after_a_code_and_refund_a_seats_paid_share,
                an_access_code_unlocks_holds_before_the_opening,
            ]);
            backend_tests!(@each $open, [tokio::test(flavor = "multi_thread", worker_threads = 4)], [
                concurrent_confirms_never_use_a_code_past_its_limit,
            ]);
        }
    };
}

/// The accessible seating cases (issue 19), as `<backend>::accessible::…`. A backend runs them
/// when its line names `accessible_tests`.
macro_rules! accessible_tests {
    ($open:path) => {
        mod accessible {
            backend_tests!(@each $open, [tokio::test], [
                held_back_seats_go_only_to_an_accessible_party_before_the_release,
                after_the_release_held_back_seats_sell_as_any_seat,
            ]);
            backend_tests!(@each $open, [tokio::test(flavor = "multi_thread", worker_threads = 4)], [
                concurrent_plain_holds_of_held_back_seats_all_get_nothing,
            ]);
        }
    };
}

/// The ticket cases, as `<backend>::tickets::…`: a backend runs them when its `backend_tests!`
/// line names `ticket_tests`.
macro_rules! ticket_tests {
    ($open:path) => {
        mod tickets {
            backend_tests!(@each $open, [tokio::test], [
                a_ticket_is_issued_per_confirmed_seat,
                a_ticket_names_the_buyer_as_at_the_confirm_or_the_e_mail_when_nameless,
                no_ticket_without_a_confirmed_payment,
                canceling_a_paid_seat_revokes_its_ticket_only,
                canceling_a_booking_revokes_its_tickets_only,
                canceling_an_event_revokes_its_tickets_only,
                a_used_ticket_canceled_is_revoked_and_keeps_its_admission,
                check_in_admits_a_valid_ticket_once_and_refuses_the_rest,
                a_sync_batch_replayed_twice_changes_nothing,
                list_tickets_newest_first_per_user_and_booking_with_paging,
                event_tickets_list_every_status_by_id,
                ticket_tallies_count_by_status_and_gate,
            ]);
            backend_tests!(@each $open, [tokio::test(flavor = "multi_thread", worker_threads = 4)], [
                concurrent_scans_of_one_ticket_admit_it_once,
                concurrent_scans_of_many_tickets_admit_each_once_and_name_the_winner,
                concurrent_scans_and_a_cancel_leave_the_ticket_revoked_admitted_at_most_once,
            ]);
        }
    };
}

backend_tests!(
    sqlite,
    crate::support::sqlite_store,
    ticket_tests,
    message_tests,
    waiting_room_tests,
    waitlist_tests,
    webhook_tests,
    code_tests,
    accessible_tests
);
backend_tests!(
    postgres,
    crate::support::postgres_store,
    ticket_tests,
    message_tests,
    waiting_room_tests,
    waitlist_tests,
    webhook_tests,
    code_tests,
    accessible_tests
);
backend_tests!(
    dynamodb,
    crate::support::dynamodb_store,
    ticket_tests,
    message_tests,
    waiting_room_tests,
    waitlist_tests,
    webhook_tests,
    code_tests,
    accessible_tests
);
