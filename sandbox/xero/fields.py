"""The properties a ``where`` clause may name, per Xero model, and their types.

Taken from the schemas of Xero's OpenAPI description of the Accounting API (Xero-OpenAPI
``xero_accounting.yaml`` v16.1.0, copied to ``tests/fixtures/xero_accounting.yaml``): the seven
models the sandbox lists (Contact, Invoice, CreditNote, Payment, Overpayment, Prepayment,
ContactGroup) and the objects they hold. Xero evaluates ``where`` against its own models, so a
property outside them is refused even when no record carries it; one a model has but a record
lacks is simply null. Types: ``string`` (enums included), ``guid``, ``date`` (``/Date(ms)/``),
``number``, ``bool``, ``list``; ``objects`` maps a property to the model it holds.
"""

from __future__ import annotations


def _kinds(objects: str = "", **kinds: str) -> dict[str, str]:
    """``kind="Name Name …"`` and ``objects="Property:Model …"`` → property -> type."""
    out = {name: kind for kind, names in kinds.items() for name in names.split()}
    for pair in objects.split():
        name, _, model = pair.partition(":")
        out[name] = model
    return out


FIELDS: dict[str, dict[str, str]] = {
    "Contact": _kinds(
        guid="ContactID MergedToContactID",
        string="ContactNumber AccountNumber ContactStatus Name FirstName LastName CompanyNumber "
               "EmailAddress BankAccountDetails TaxNumber TaxNumberType "
               "AccountsReceivableTaxType AccountsPayableTaxType SalesDefaultLineAmountType "
               "PurchasesDefaultLineAmountType DefaultCurrency XeroNetworkKey "
               "SalesDefaultAccountCode PurchasesDefaultAccountCode TrackingCategoryName "
               "TrackingCategoryOption Website StatusAttributeString",
        list="ContactPersons Addresses Phones SalesTrackingCategories "
             "PurchasesTrackingCategories ContactGroups Attachments ValidationErrors",
        bool="IsSupplier IsCustomer HasAttachments HasValidationErrors",
        date="UpdatedDateUTC",
        number="Discount",
        objects="PaymentTerms:PaymentTerm BrandingTheme:BrandingTheme "
                "BatchPayments:BatchPaymentDetails Balances:Balances",
    ),
    "Invoice": _kinds(
        string="Type LineAmountTypes InvoiceNumber Reference Url CurrencyCode Status "
               "UpdatedDateUTCString StatusAttributeString",
        list="LineItems Payments Prepayments Overpayments CreditNotes Attachments "
             "ValidationErrors Warnings InvoiceAddresses",
        date="Date DueDate ExpectedPaymentDate PlannedPaymentDate FullyPaidOnDate "
             "UpdatedDateUTC",
        guid="BrandingThemeID InvoiceID RepeatingInvoiceID",
        number="CurrencyRate CISDeduction CISRate SubTotal TotalTax Total TotalDiscount "
               "AmountDue AmountPaid AmountCredited",
        bool="SentToContact HasAttachments IsDiscounted HasErrors",
        objects="Contact:Contact",
    ),
    "CreditNote": _kinds(
        string="Type Status LineAmountTypes UpdatedDateUTCString CurrencyCode CreditNoteNumber "
               "Reference StatusAttributeString",
        date="Date DueDate UpdatedDateUTC FullyPaidOnDate",
        list="LineItems Allocations Payments ValidationErrors Warnings InvoiceAddresses",
        number="SubTotal TotalTax Total CISDeduction CISRate CurrencyRate RemainingCredit "
               "AppliedAmount",
        guid="CreditNoteID BrandingThemeID",
        bool="SentToContact HasAttachments HasErrors",
        objects="Contact:Contact",
    ),
    "Payment": _kinds(
        string="InvoiceNumber CreditNoteNumber Code Reference Status PaymentType "
               "UpdatedDateUTCString BankAccountNumber Particulars Details "
               "StatusAttributeString",
        date="Date UpdatedDateUTC",
        number="CurrencyRate Amount BankAmount",
        bool="IsReconciled HasAccount HasValidationErrors",
        guid="PaymentID BatchPaymentID",
        list="ValidationErrors Warnings",
        objects="Invoice:Invoice CreditNote:CreditNote Prepayment:Prepayment "
                "Overpayment:Overpayment BatchPayment:BatchPayment Account:Account",
    ),
    "Overpayment": _kinds(
        string="Type Status LineAmountTypes UpdatedDateUTCString CurrencyCode Reference",
        date="Date UpdatedDateUTC",
        list="LineItems Allocations Payments Attachments",
        number="SubTotal TotalTax Total CurrencyRate RemainingCredit AppliedAmount",
        guid="OverpaymentID",
        bool="HasAttachments",
        objects="Contact:Contact",
    ),
    "Prepayment": _kinds(
        string="Type Status LineAmountTypes Reference InvoiceNumber UpdatedDateUTCString "
               "CurrencyCode",
        date="Date UpdatedDateUTC",
        list="LineItems Allocations Payments Attachments",
        number="SubTotal TotalTax Total CurrencyRate RemainingCredit AppliedAmount",
        guid="PrepaymentID BrandingThemeID",
        bool="HasAttachments",
        objects="Contact:Contact",
    ),
    "ContactGroup": _kinds(
        string="Name Status",
        guid="ContactGroupID",
        list="Contacts",
    ),
    "PaymentTerm": _kinds(
        objects="Bills:Bill Sales:Bill",
    ),
    "BrandingTheme": _kinds(
        guid="BrandingThemeID",
        string="Name LogoUrl Type",
        number="SortOrder",
        date="CreatedDateUTC",
    ),
    "BatchPaymentDetails": _kinds(
        string="BankAccountNumber BankAccountName Details Code Reference",
    ),
    "Balances": _kinds(
        objects="AccountsReceivable:AccountsReceivable AccountsPayable:AccountsPayable",
    ),
    "BatchPayment": _kinds(
        string="Reference Particulars Code Details Narrative DateString Type Status",
        guid="BatchPaymentID",
        date="Date UpdatedDateUTC",
        number="Amount TotalAmount",
        list="Payments ValidationErrors",
        bool="IsReconciled",
        objects="Account:Account",
    ),
    "Account": _kinds(
        string="Code Name Type BankAccountNumber Status Description BankAccountType "
               "CurrencyCode TaxType Class SystemAccount ReportingCode ReportingCodeName",
        guid="AccountID",
        bool="EnablePaymentsToAccount ShowInExpenseClaims HasAttachments AddToWatchlist",
        date="UpdatedDateUTC",
        list="ValidationErrors",
    ),
    "Bill": _kinds(
        number="Day",
        string="Type",
    ),
    "AccountsReceivable": _kinds(
        number="Outstanding Overdue",
    ),
    "AccountsPayable": _kinds(
        number="Outstanding Overdue",
    ),
}
