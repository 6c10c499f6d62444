-- Service-plan steps past their due date and grace period with no service done: one alert
-- per step for the customer's salesperson (home store CRM record), most overdue first.
select h.salesperson_id, h.home_store_id, t.customer_id, d.name, d.phone, t.order_id,
    t.order_source_system, t.category, t.step,
    p.action, t.event_date as due_date, -t.days_until as days_overdue, {{ as_of_date() }} as as_of_date
from {{ ref('int_activation__triggers') }} t
join {{ ref('service_plans') }} p on p.category = t.category and p.step = t.step
join {{ ref('dim_customer') }} d using (customer_id)
left join {{ ref('int_customer__home_store') }} h using (customer_id)
where t.trigger_type = 'service_step' and -t.days_until > p.grace_days
