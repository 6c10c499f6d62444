-- Phones and emails that belong to exactly one person: contact files, service records and
-- consents that carry only a phone or email are tied to people through these.
select k.key_type, k.key_value, any_value(m.customer_id) as customer_id
from {{ ref('int_identity__keys') }} k
join {{ ref('int_identity__customer_map') }} m using (source, source_record_id)
where k.key_type in ('phone', 'email')
group by k.key_type, k.key_value
having count(distinct m.customer_id) = 1
