-- Published as is from int_orders__category_associations (see its yml for the rules).
select * from {{ ref('int_orders__category_associations') }}
