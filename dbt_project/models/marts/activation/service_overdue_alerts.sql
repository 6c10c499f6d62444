-- Service-plan steps past their due date and grace period with no service done: one alert
-- per step for the customer's salesperson (home store CRM record), most overdue first.
-- An alert leads to a call, so it goes through the contact policy (customer_contact_policy, the
-- planner's own rules, phone channel, service purpose): reason is included:service_overdue with
-- the legal_basis the call relies on, or the policy's excluded:<code> (the person's or the
-- number's do-not-contact, opt-out or withdrawal, no basis). The phone is given only when the call
-- is allowed; a suppressed customer stays on the list, flagged, so the salesperson knows not to call.
with state as (
    select customer_id, suppression_reason, service_basis, service_reason
    from {{ ref('int_contact__policy_state') }} where channel = 'phone'
),
alerts as (
    select h.salesperson_id, h.home_store_id, t.customer_id, d.name, d.phone, t.order_id,
        t.order_source_system, t.category, t.step,
        p.action, t.event_date as due_date, -t.days_until as days_overdue, {{ as_of_date() }} as as_of_date,
        case when d.phone is null then 'excluded:no_phone'
             when s.customer_id is null then 'excluded:no_policy_state'  -- never assume a call is allowed
             else coalesce(s.suppression_reason, s.service_reason, 'included:service_overdue') end as reason,
        s.service_basis
    from {{ ref('int_activation__triggers') }} t
    join {{ ref('service_plans') }} p on p.category = t.category and p.step = t.step
    join {{ ref('int_customer__profile') }} d using (customer_id)
    left join {{ ref('int_customer__home_store') }} h using (customer_id)
    left join state s using (customer_id)
    where t.trigger_type = 'service_step' and -t.days_until > p.grace_days
)
select salesperson_id, home_store_id, customer_id, name,
    case when reason like 'included:%' then phone end as phone,
    order_id, order_source_system, category, step, action, due_date, days_overdue, as_of_date, reason,
    case when reason like 'included:%' then service_basis end as legal_basis
from alerts
