-- Each salesperson's customers by value tier and grade, and whether their share of wallet is
-- moving: spend in the latest value_matrix_recent_days against the same span before it (up or down by
-- more than value_matrix_change_share), or stalled.
-- Floats are summed over a list in a fixed order (list_sum(list(x order by key))): a plain sum
-- adds in whatever order parallel threads deliver, and its last digits vary from run to run.
{% set half = "(" ~ as_of_date() ~ " - interval " ~ var('value_matrix_recent_days') ~ " day)" %}
{% set year = "(" ~ as_of_date() ~ " - interval " ~ (2 * var('value_matrix_recent_days')) ~ " day)" %}
{% set change = var('value_matrix_change_share') %}
with spend as (
    select customer_id,
        coalesce(sum(amount) filter (where order_date > {{ half }}), 0) as recent,
        coalesce(sum(amount) filter (where order_date <= {{ half }} and order_date > {{ year }}), 0) as before
    from {{ ref('int_orders__enriched') }}
    where customer_id is not null and not is_refunded
    group by all
),
customers as (
    select s.*, coalesce(p.recent, 0) as recent, coalesce(p.before, 0) as before,
        case
            when coalesce(p.recent, 0) > (1 + {{ change }}) * coalesce(p.before, 0) then 'growing'
            when coalesce(p.recent, 0) < (1 - {{ change }}) * coalesce(p.before, 0) then 'shrinking'
            else 'stalled'
        end as wallet_trend
    from {{ ref('int_customer__segments') }} s
    left join spend p using (customer_id)
    where s.value_tier is not null
)
select
    coalesce(salesperson_id, 'none') as salesperson_id,
    value_tier,
    grade,
    count(*) as customers,
    {{ list_avg_double(ordered_list("share_of_wallet", "customer_id")) }} as avg_share_of_wallet,  -- over known wallets only
    count(*) filter (where wallet_trend = 'growing') as wallet_growing,
    count(*) filter (where wallet_trend = 'shrinking') as wallet_shrinking,
    count(*) filter (where wallet_trend = 'stalled') as wallet_stalled,
    {{ money('sum(value)') }} as value,  -- decimal sums are exact in any order
    {{ money('sum(potential_gap)') }} as potential_gap,
    {{ as_of_date() }} as as_of_date,
    count(*) filter (where share_of_wallet is null) as unknown_wallets  -- last: earlier columns keep their places
from customers
group by all
