-- Tonight's lists with the contact fields each row's channel needs (bullseye.activation.campaigns.CHANNEL_FIELDS),
-- as the audience has them tonight: what the export step writes. Kept with the night's build, so an export
-- is always of the contact data its own night planned with.
select
    t.run_date, t.campaign_id, t.customer_id, t.channel, t.is_holdout, t.rank_score,
    a.name, a.phone, a.email, a.wechat_unionid, a.province, a.city, a.district, a.address
from {{ ref('int_activation__list_history') }} t
join {{ ref('int_activation__audience') }} a using (customer_id)
where t.run_date = {{ as_of_date() }}
